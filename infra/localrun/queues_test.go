package localrun_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// settleTimeout bounds how long a queue test waits for its queue to empty:
// with a 1s retry delay and maxReceiveCount 2 that takes a few seconds.
const settleTimeout = 20 * time.Second

// TestQueueConsumers drives the pollers against real queues: which
// messages a batch's outcome deletes, which are redelivered, and which end
// in the dead-letter queue (maxReceiveCount 2).
func TestQueueConsumers(t *testing.T) {
	boom := errors.New("boom")
	always := func(err error) func(int, events.SQSEvent) (events.SQSEventResponse, error) {
		return func(int, events.SQSEvent) (events.SQSEventResponse, error) { return events.SQSEventResponse{}, err }
	}
	report := func(id string) func(int, events.SQSEvent) (events.SQSEventResponse, error) {
		return func(int, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: id}}}, nil
		}
	}
	tests := []struct {
		name    string
		queue   string // WorkQueue: ReportBatchItemFailures; PlainQueue: not
		bodies  []string
		respond func(int, events.SQSEvent) (events.SQSEventResponse, error)
		// wantCounts is, per body, the ApproximateReceiveCount of each delivery.
		wantCounts map[string][]string
		wantDLQ    []string // sorted
	}{
		{
			name:  "partial failure: the others are processed once, the failing one is retried, then dead-lettered",
			queue: "WorkQueue", bodies: []string{"a", "b", "poison", "c"}, respond: failBody("poison"),
			wantCounts: map[string][]string{"a": {"1"}, "b": {"1"}, "c": {"1"}, "poison": {"1", "2"}},
			wantDLQ:    []string{"poison"},
		},
		{
			name: "success deletes the whole batch", queue: "WorkQueue", bodies: []string{"a", "b", "c"},
			wantCounts: map[string][]string{"a": {"1"}, "b": {"1"}, "c": {"1"}}, wantDLQ: []string{},
		},
		{
			name: "handler error: nothing is deleted, the batch is retried and dead-lettered", queue: "WorkQueue",
			bodies: []string{"a", "b"}, respond: always(boom),
			wantCounts: map[string][]string{"a": {"1", "2"}, "b": {"1", "2"}}, wantDLQ: []string{"a", "b"},
		},
		{
			name: "handler error without ReportBatchItemFailures: nothing is deleted", queue: "PlainQueue",
			bodies: []string{"a", "b"}, respond: always(boom),
			wantCounts: map[string][]string{"a": {"1", "2"}, "b": {"1", "2"}}, wantDLQ: []string{"a", "b"},
		},
		{
			name: "handler error, then success: the retried batch is deleted", queue: "PlainQueue", bodies: []string{"a", "b"},
			respond: func(call int, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if call == 0 {
					return events.SQSEventResponse{}, boom
				}
				return events.SQSEventResponse{}, nil
			},
			wantCounts: map[string][]string{"a": {"1", "2"}, "b": {"1", "2"}}, wantDLQ: []string{},
		},
		{
			name: "unknown itemIdentifier: the whole batch failed", queue: "WorkQueue",
			bodies: []string{"a", "b"}, respond: report("not-a-message-of-this-batch"),
			wantCounts: map[string][]string{"a": {"1", "2"}, "b": {"1", "2"}}, wantDLQ: []string{"a", "b"},
		},
		{
			name: "empty itemIdentifier: the whole batch failed", queue: "WorkQueue",
			bodies: []string{"a", "b"}, respond: report(""),
			wantCounts: map[string][]string{"a": {"1", "2"}, "b": {"1", "2"}}, wantDLQ: []string{"a", "b"},
		},
		{
			name: "without ReportBatchItemFailures reported failures are ignored", queue: "PlainQueue",
			bodies: []string{"a", "poison"}, respond: failBody("poison"),
			wantCounts: map[string][]string{"a": {"1"}, "poison": {"1"}}, wantDLQ: []string{},
		},
		{
			name: "a panicking handler is a failed invocation", queue: "WorkQueue", bodies: []string{"a"},
			respond: func(call int, ev events.SQSEvent) (events.SQSEventResponse, error) {
				if call == 0 {
					panic("handler bug")
				}
				return events.SQSEventResponse{}, nil
			},
			wantCounts: map[string][]string{"a": {"1", "2"}}, wantDLQ: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, time.Second)
			consumer, dlq := f.work, "WorkDeadLetterQueue"
			if tt.queue == "PlainQueue" {
				consumer, dlq = f.plain, "PlainDeadLetterQueue"
			}
			consumer.respond = tt.respond
			f.send(t, tt.queue, tt.bodies...)
			f.start(t)

			f.waitEmpty(t, tt.queue)
			if got := consumer.receiveCounts(); !reflect.DeepEqual(got, tt.wantCounts) {
				t.Errorf("deliveries (receive counts by body): got %v, want %v", got, tt.wantCounts)
			}
			if got := f.receiveAll(t, dlq); !reflect.DeepEqual(got, tt.wantDLQ) {
				t.Errorf("dead-letter queue: got %q, want %q", got, tt.wantDLQ)
			}
		})
	}
}

// TestSQSEvent checks the event a consumer gets against what Lambda sends,
// across a redelivery.
func TestSQSEvent(t *testing.T) {
	f := newFixture(t, time.Second)
	f.work.respond = func(call int, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if call == 0 {
			return failBody(ev.Records[0].Body)(call, ev)
		}
		return events.SQSEventResponse{}, nil
	}
	const body = `{"type":"death","version":1}`
	sent, err := f.local.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(f.queueURL(t, "WorkQueue")), MessageBody: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind":  {DataType: aws.String("String"), StringValue: aws.String("death")},
			"count": {DataType: aws.String("Number"), StringValue: aws.String("42")},
			"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 0xff}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.start(t)
	f.waitEmpty(t, "WorkQueue")

	ds := f.work.all()
	if len(ds) != 2 {
		t.Fatalf("deliveries: got %d, want 2 (one failure, one success): %+v", len(ds), ds)
	}
	sum := md5.Sum([]byte(body))
	wantARN := "arn:aws:sqs:eu-north-1:123456789012:" + f.queueName(t, "WorkQueue")
	str := func(s string) *string { return &s }
	wantAttrs := map[string]events.SQSMessageAttribute{
		"kind":  {DataType: "String", StringValue: str("death"), StringListValues: []string{}, BinaryListValues: [][]byte{}},
		"count": {DataType: "Number", StringValue: str("42"), StringListValues: []string{}, BinaryListValues: [][]byte{}},
		"blob":  {DataType: "Binary", BinaryValue: []byte{0, 1, 0xff}, StringListValues: []string{}, BinaryListValues: [][]byte{}},
	}
	for i, d := range ds {
		r := d.Record
		checks := []struct {
			name      string
			got, want any
		}{
			{"messageId", r.MessageId, aws.ToString(sent.MessageId)},
			{"body", r.Body, body},
			{"md5OfBody", r.Md5OfBody, hex.EncodeToString(sum[:])},
			{"md5OfMessageAttributes", r.Md5OfMessageAttributes, aws.ToString(sent.MD5OfMessageAttributes)},
			{"eventSource", r.EventSource, "aws:sqs"},
			{"eventSourceARN", r.EventSourceARN, wantARN},
			{"eventSourceARN = the function's !GetAtt WorkQueue.Arn", r.EventSourceARN, f.work.env.Getenv("QUEUE_ARN")},
			{"awsRegion", r.AWSRegion, "eu-north-1"},
			{"attributes.ApproximateReceiveCount", r.Attributes["ApproximateReceiveCount"], strconv.Itoa(i + 1)},
			{"attributes.SentTimestamp is the same on both deliveries", r.Attributes["SentTimestamp"], ds[0].Record.Attributes["SentTimestamp"]},
			{"attributes.ApproximateFirstReceiveTimestamp is the same on both deliveries", r.Attributes["ApproximateFirstReceiveTimestamp"], ds[0].Record.Attributes["ApproximateFirstReceiveTimestamp"]},
			{"messageAttributes", r.MessageAttributes, wantAttrs},
			{"one record per call", d.Call, i},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("delivery %d: %s: got %#v, want %#v", i+1, c.name, c.got, c.want)
			}
		}
		for _, a := range []string{"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} {
			if r.Attributes[a] == "" {
				t.Errorf("delivery %d: attributes.%s: missing (got %v)", i+1, a, r.Attributes)
			}
		}
		if ms, err := strconv.ParseInt(r.Attributes["SentTimestamp"], 10, 64); err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
			t.Errorf("delivery %d: attributes.SentTimestamp %q: want epoch milliseconds of about now", i+1, r.Attributes["SentTimestamp"])
		}
		if r.ReceiptHandle == "" {
			t.Errorf("delivery %d: receiptHandle is empty", i+1)
		}
		if !strings.HasPrefix(d.RequestID, "local-") {
			t.Errorf("delivery %d: lambdacontext request id %q, want a local- id", i+1, d.RequestID)
		}
	}
	if ds[0].Record.ReceiptHandle == ds[1].Record.ReceiptHandle {
		t.Errorf("receipt handles: got the same on both deliveries, want a new one per receive")
	}
	if ds[0].RequestID == ds[1].RequestID {
		t.Errorf("request ids: got %q twice, want a fresh one per invocation", ds[0].RequestID)
	}

	t.Run("each batch is logged", func(t *testing.T) {
		var got []map[string]any
		for _, r := range f.log.records(t, "sqs batch") {
			got = append(got, map[string]any{"function": r["function"], "queue": r["queue"], "count": r["count"], "failures": r["failures"], "requestId": r["requestId"]})
		}
		want := []map[string]any{
			{"function": "WorkerFunction", "queue": "WorkQueue", "count": 1.0, "failures": 1.0, "requestId": ds[0].RequestID},
			{"function": "WorkerFunction", "queue": "WorkQueue", "count": 1.0, "failures": 0.0, "requestId": ds[1].RequestID},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

// TestNoRetryDelay checks that without RetryDelay a failed message waits
// out the queue's visibility timeout (30s here), as under Lambda.
func TestNoRetryDelay(t *testing.T) {
	f := newFixture(t, 0)
	f.work.respond = failBody("poison")
	f.send(t, "WorkQueue", "poison")
	f.start(t)
	waitUntil(t, settleTimeout, "the first delivery", func() bool { return f.work.callCount() > 0 })
	time.Sleep(2500 * time.Millisecond) // longer than a 1s retry delay and a poll
	if got, want := f.work.receiveCounts(), map[string][]string{"poison": {"1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("deliveries: got %v, want %v", got, want)
	}
	if visible, inFlight, _ := f.depth(t, "WorkQueue"); visible != 0 || inFlight != 1 {
		t.Errorf("queue: got %d visible and %d in flight, want 0 and 1 (invisible until the visibility timeout)", visible, inFlight)
	}
}
