package testenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/stack"
)

// Drain hands every message on a test stack's queue to consumer in batches
// of up to 10, as Lambda's event source mapping would, stamping each with
// SentTimestamp now(). A batch the consumer fails fails the test (with logs);
// delivered messages are deleted. It returns how many messages it delivered.
func Drain(t testing.TB, l *stack.Local, queue string, consumer func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), now func() time.Time, logs fmt.Stringer) int {
	t.Helper()
	url := l.QueueURLs[queue]
	n := 0
	for {
		out, err := l.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return n
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(now().UnixMilli(), 10)}})
		}
		res, err := consumer(context.Background(), ev)
		if err != nil || len(res.BatchItemFailures) > 0 {
			t.Fatalf("%s: %v %v\n%s", queue, err, res.BatchItemFailures, logs.String())
		}
		for _, m := range out.Messages {
			_, _ = l.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
		}
		n += len(out.Messages)
	}
}

// CountPrefix counts the sort keys that start with prefix.
func CountPrefix(sks []string, prefix string) int {
	n := 0
	for _, s := range sks {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
