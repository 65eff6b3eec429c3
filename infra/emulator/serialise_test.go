package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestConcurrentTransactionsAreAtomic races 20 transactions that each claim
// one item (attribute_not_exists) and write an item of their own: exactly
// one may succeed, and no loser's item may be written. Straight to moto this
// fails about one run in two (see proxy); through the proxy, never.
func TestConcurrentTransactionsAreAtomic(t *testing.T) {
	l := testenv.New(t)
	table := l.Table("PrivacyTable")
	ctx := context.Background()
	const n = 20
	for round := range 5 {
		claim := fmt.Sprintf("CLAIM#%d", round)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = l.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
					{Put: &types.Put{TableName: aws.String(table), ConditionExpression: aws.String("attribute_not_exists(pk)"),
						Item: map[string]types.AttributeValue{"pk": str("race"), "sk": str(claim), "by": str(fmt.Sprint(i))}}},
					{Put: &types.Put{TableName: aws.String(table),
						Item: map[string]types.AttributeValue{"pk": str("race"), "sk": str(fmt.Sprintf("WON#%d#%02d", round, i))}}},
				}})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var tc *types.TransactionCanceledException
			switch {
			case err == nil:
				won++
			case !errors.As(err, &tc):
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		written := 0
		for _, sk := range testenv.SortKeys(t, l, "race") {
			if len(sk) > 4 && sk[:4] == "WON#" && sk[4:5] == fmt.Sprint(round) {
				written++
			}
		}
		if won != 1 || written != 1 {
			t.Fatalf("round %d: %d transactions succeeded and %d wrote their item; want 1 and 1", round, won, written)
		}
	}
}

// TestSQSIsNotSerialised: a long poll in flight must not hold up DynamoDB
// (or the proxy would stall every test that polls a queue).
func TestSQSIsNotSerialised(t *testing.T) {
	l := testenv.New(t)
	ctx := context.Background()
	url := l.QueueURLs["NoticesQueue"]
	polled := make(chan error, 1)
	go func() {
		_, err := l.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 3})
		polled <- err
	}()
	time.Sleep(300 * time.Millisecond) // the poll is now waiting in moto
	start := time.Now()
	if _, err := l.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table("PrivacyTable")),
		Key: map[string]types.AttributeValue{"pk": str("x"), "sk": str("y")}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("GetItem took %v during a long poll; SQS must pass the proxy concurrently", d)
	}
	if err := <-polled; err != nil {
		t.Fatalf("long poll: %v", err)
	}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
