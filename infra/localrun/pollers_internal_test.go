package localrun

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func msg(id string) types.Message {
	return types.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String("body-" + id)}
}

func ids(ms []types.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, aws.ToString(m.MessageId))
	}
	return out
}

func failures(ids ...string) events.SQSEventResponse {
	var r events.SQSEventResponse
	for _, id := range ids {
		r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return r
}

func TestSettle(t *testing.T) {
	batch := []types.Message{msg("m1"), msg("m2"), msg("m3")}
	boom := errors.New("boom")
	tests := []struct {
		name       string
		resp       events.SQSEventResponse
		err        error
		report     bool
		wantDone   []string
		wantFailed []string
		wantReason string // substring; "" means no whole-batch failure
	}{
		{"success, no failures reported", events.SQSEventResponse{}, nil, true, []string{"m1", "m2", "m3"}, []string{}, ""},
		{"one failure reported", failures("m2"), nil, true, []string{"m1", "m3"}, []string{"m2"}, ""},
		{"same failure reported twice", failures("m2", "m2"), nil, true, []string{"m1", "m3"}, []string{"m2"}, ""},
		{"every message failed", failures("m3", "m1", "m2"), nil, true, []string{}, []string{"m1", "m2", "m3"}, ""},
		{"unknown itemIdentifier fails the whole batch", failures("m2", "nope"), nil, true, []string{}, []string{"m1", "m2", "m3"}, `"nope"`},
		{"empty itemIdentifier fails the whole batch", failures(""), nil, true, []string{}, []string{"m1", "m2", "m3"}, "empty itemIdentifier"},
		{"handler error fails the whole batch", failures("m2"), boom, true, []string{}, []string{"m1", "m2", "m3"}, "handler returned an error"},
		{"handler error without ReportBatchItemFailures", events.SQSEventResponse{}, boom, false, []string{}, []string{"m1", "m2", "m3"}, "handler returned an error"},
		{"failures ignored without ReportBatchItemFailures", failures("m2", "nope"), nil, false, []string{"m1", "m2", "m3"}, []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, failed, reason := settle(batch, tt.resp, tt.err, tt.report)
			if got := ids(done); !reflect.DeepEqual(got, tt.wantDone) {
				t.Errorf("done: got %q, want %q", got, tt.wantDone)
			}
			if got := ids(failed); !reflect.DeepEqual(got, tt.wantFailed) {
				t.Errorf("failed: got %q, want %q", got, tt.wantFailed)
			}
			if (tt.wantReason == "") != (reason == "") || !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason: got %q, want one containing %q", reason, tt.wantReason)
			}
		})
	}
}

func TestSQSEventConversion(t *testing.T) {
	in := []types.Message{
		{
			MessageId: aws.String("id-1"), ReceiptHandle: aws.String("rh-1"), Body: aws.String(`{"n":1}`),
			MD5OfBody: aws.String("md5-body"), MD5OfMessageAttributes: aws.String("md5-attrs"),
			Attributes: map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
			MessageAttributes: map[string]types.MessageAttributeValue{
				"kind": {DataType: aws.String("String"), StringValue: aws.String("death")},
				"blob": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1}},
			},
		},
		{MessageId: aws.String("id-2"), ReceiptHandle: aws.String("rh-2"), Body: aws.String("plain")},
	}
	const arn = "arn:aws:sqs:eu-north-1:123456789012:q"
	got := sqsEvent(in, arn, "eu-north-1")
	want := events.SQSEvent{Records: []events.SQSMessage{
		{
			MessageId: "id-1", ReceiptHandle: "rh-1", Body: `{"n":1}`, Md5OfBody: "md5-body", Md5OfMessageAttributes: "md5-attrs",
			Attributes: map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
			MessageAttributes: map[string]events.SQSMessageAttribute{
				"kind": {DataType: "String", StringValue: aws.String("death"), StringListValues: []string{}, BinaryListValues: [][]byte{}},
				"blob": {DataType: "Binary", BinaryValue: []byte{0, 1}, StringListValues: []string{}, BinaryListValues: [][]byte{}},
			},
			EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: "eu-north-1",
		},
		{
			MessageId: "id-2", ReceiptHandle: "rh-2", Body: "plain",
			Attributes: map[string]string{}, MessageAttributes: map[string]events.SQSMessageAttribute{},
			EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: "eu-north-1",
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// fakeQueue records the batch calls and answers with canned results.
type fakeQueue struct {
	mu        sync.Mutex
	deletes   []*sqs.DeleteMessageBatchInput
	changes   []*sqs.ChangeMessageVisibilityBatchInput
	deleteOut *sqs.DeleteMessageBatchOutput
	deleteErr error
}

func (f *fakeQueue) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *fakeQueue) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, in)
	if f.deleteOut == nil {
		return &sqs.DeleteMessageBatchOutput{}, f.deleteErr
	}
	return f.deleteOut, f.deleteErr
}

func (f *fakeQueue) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, in)
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

func TestAcknowledge(t *testing.T) {
	type change struct {
		Handle string
		Secs   int32
	}
	tests := []struct {
		name         string
		done, failed []types.Message
		retry        time.Duration
		fake         *fakeQueue
		wantDeleted  []string // receipt handles
		wantChanged  []change
		wantErr      string
	}{
		{"done are deleted", []types.Message{msg("a"), msg("b")}, nil, 0, &fakeQueue{}, []string{"rh-a", "rh-b"}, nil, ""},
		{"failed are left alone without a retry delay", []types.Message{msg("a")}, []types.Message{msg("b")}, 0, &fakeQueue{}, []string{"rh-a"}, nil, ""},
		{"failed get the retry delay", nil, []types.Message{msg("b"), msg("c")}, time.Second, &fakeQueue{}, nil, []change{{"rh-b", 1}, {"rh-c", 1}}, ""},
		{"retry delay rounds up to whole seconds", nil, []types.Message{msg("b")}, 1500 * time.Millisecond, &fakeQueue{}, nil, []change{{"rh-b", 2}}, ""},
		{"nothing to do", nil, nil, time.Second, &fakeQueue{}, nil, nil, ""},
		{"delete fails", []types.Message{msg("a")}, nil, 0, &fakeQueue{deleteErr: errors.New("unreachable")}, []string{"rh-a"}, nil, "delete 1 messages: unreachable"},
		{"delete partly fails", []types.Message{msg("a"), msg("b")}, nil, 0, &fakeQueue{deleteOut: &sqs.DeleteMessageBatchOutput{
			Failed: []types.BatchResultErrorEntry{{Id: aws.String("1"), Code: aws.String("ReceiptHandleIsInvalid"), Message: aws.String("bad")}},
		}}, []string{"rh-a", "rh-b"}, nil, "1 of 2 messages not deleted (first: ReceiptHandleIsInvalid bad)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake
			err := acknowledge(context.Background(), f, "http://q", tt.done, tt.failed, tt.retry)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error: got %v, want %q", err, tt.wantErr)
			}
			var deleted []string
			for _, in := range f.deletes {
				for i, e := range in.Entries {
					if got, want := aws.ToString(e.Id), strconv.Itoa(i); got != want {
						t.Errorf("delete entry %d: got id %q, want %q", i, got, want)
					}
					deleted = append(deleted, aws.ToString(e.ReceiptHandle))
				}
			}
			var changed []change
			for _, in := range f.changes {
				for _, e := range in.Entries {
					changed = append(changed, change{aws.ToString(e.ReceiptHandle), e.VisibilityTimeout})
				}
			}
			if !reflect.DeepEqual(deleted, tt.wantDeleted) {
				t.Errorf("deleted: got %q, want %q", deleted, tt.wantDeleted)
			}
			if !reflect.DeepEqual(changed, tt.wantChanged) {
				t.Errorf("visibility changed: got %v, want %v", changed, tt.wantChanged)
			}
		})
	}
}

func TestClock(t *testing.T) {
	base := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	c := NewClock(func() time.Time { return base })
	steps := []struct {
		name       string
		advance    time.Duration
		wantErr    error  // errors.Is
		wantErrMsg string // substring
		wantOffset time.Duration
	}{
		{"forward 30 days", 720 * time.Hour, nil, "", 720 * time.Hour},
		{"zero is allowed", 0, nil, "", 720 * time.Hour},
		{"backwards is refused", -time.Second, ErrClockBackwards, "only moves forward", 720 * time.Hour},
		{"beyond the limit is refused", MaxClockOffset, nil, "ahead of real time", 720 * time.Hour},
		{"a minute more", time.Minute, nil, "", 720*time.Hour + time.Minute},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := c.Advance(s.advance)
			switch {
			case s.wantErrMsg == "" && err != nil:
				t.Fatalf("Advance(%s): %v", s.advance, err)
			case s.wantErrMsg != "" && (err == nil || !strings.Contains(err.Error(), s.wantErrMsg)):
				t.Fatalf("Advance(%s): got error %v, want one containing %q", s.advance, err, s.wantErrMsg)
			case s.wantErr != nil && !errors.Is(err, s.wantErr):
				t.Fatalf("Advance(%s): got %v, want errors.Is %v", s.advance, err, s.wantErr)
			case err == nil && got != s.wantOffset:
				t.Errorf("Advance returned offset %s, want %s", got, s.wantOffset)
			}
			if got := c.Offset(); got != s.wantOffset {
				t.Errorf("Offset: got %s, want %s", got, s.wantOffset)
			}
			if got, want := c.Now(), base.Add(s.wantOffset); !got.Equal(want) {
				t.Errorf("Now: got %s, want %s", got, want)
			}
		})
	}

	t.Run("the zero value is real time", func(t *testing.T) {
		var z Clock
		if d := time.Since(z.Now()); d < 0 || d > time.Second {
			t.Errorf("Now is %s away from time.Now", d)
		}
	})

	t.Run("concurrent advances all count", func(t *testing.T) {
		c := NewClock(nil)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, _ = c.Advance(time.Hour)
				_ = c.Now()
			})
		}
		wg.Wait()
		if got, want := c.Offset(), 50*time.Hour; got != want {
			t.Errorf("Offset: got %s, want %s", got, want)
		}
	})
}

func TestParseAdvance(t *testing.T) {
	tests := []struct {
		query   string
		want    time.Duration
		wantErr string
	}{
		{"advance=720h", 720 * time.Hour, ""},
		{"advance=1h30m", 90 * time.Minute, ""},
		{"advance=0s", 0, ""},
		{"days=30", 720 * time.Hour, ""},
		{"days=0", 0, ""},
		{"days=36500", MaxClockOffset, ""},
		{"advance=-1h", 0, "only moves forward"},
		{"advance=30d", 0, "not a Go duration"},
		{"advance=", 0, "not a Go duration"},
		{"days=-1", 0, "only moves forward"},
		{"days=1.5", 0, "not a whole number"},
		{"days=99999999999999999999", 0, "not a whole number"},
		{"days=36501", 0, "at most 36500 days"},
		{"advance=1h&days=1", 0, "not both"},
		{"", 0, "say how far"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseAdvance(q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %s, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:3000", true},
		{"127.0.0.1", true},
		{"[::1]:3000", true},
		{"localhost:3000", true},
		{"10.0.0.5:3000", false},
		{"evil.example", false},
		{"localhost.evil.example:3000", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := loopbackHost(tt.host); got != tt.want {
			t.Errorf("loopbackHost(%q): got %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestIsAdminPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/_local", true},
		{"/_local/", true},
		{"/_local/clock", true},
		{"/_localx", false},
		{"/v1/_local/clock", false},
		{"/", false},
	}
	for _, tt := range tests {
		if got := isAdminPath(tt.path); got != tt.want {
			t.Errorf("isAdminPath(%q): got %v, want %v", tt.path, got, tt.want)
		}
	}
}
