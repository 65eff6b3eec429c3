package testenv

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/emulator"
	"privacycore/infra/stack"
)

// Main runs a package's tests and then stops the shared emulator; call it
// from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// Buffer is a log sink that handlers on several goroutines can share.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SortKeys lists the sort keys of one partition of the stack's table,
// strongly consistent, in key order.
func SortKeys(t testing.TB, l *stack.Local, pk string) []string {
	t.Helper()
	var sks []string
	p := dynamodb.NewQueryPaginator(l.DynamoDB, &dynamodb.QueryInput{
		TableName: aws.String(l.Table("PrivacyTable")), KeyConditionExpression: aws.String("pk = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
		}
	}
	return sks
}

// BatchPut writes items to the stack's table with BatchWriteItem, four
// batches of 25 in flight: seeding thousands of items takes seconds, not
// the minutes of one PutItem each.
func BatchPut(t testing.TB, l *stack.Local, items []map[string]any) {
	t.Helper()
	table := l.Table("PrivacyTable")
	var batches [][]types.WriteRequest
	var cur []types.WriteRequest
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		cur = append(cur, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		if len(cur) == 25 {
			batches, cur = append(batches, cur), nil
		}
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	work := make(chan []types.WriteRequest)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				pending := map[string][]types.WriteRequest{table: b}
				for len(pending[table]) > 0 {
					out, err := l.DynamoDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
					if err != nil {
						errs <- err
						return
					}
					pending = out.UnprocessedItems
				}
			}
		}()
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
