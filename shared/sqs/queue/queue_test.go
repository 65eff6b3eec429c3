package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/shared/domain/deletion"
	"privacycore/shared/sqs/queue"
)

func TestBatch(t *testing.T) {
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "ok"}, {MessageId: "fails"}, {MessageId: "panics"}, {MessageId: "ok2"}}}
	var seen []string
	resp := queue.Batch(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), ev, func(_ context.Context, m events.SQSMessage) error {
		seen = append(seen, m.MessageId)
		switch m.MessageId {
		case "fails":
			return errors.New("bad")
		case "panics":
			panic("boom")
		}
		return nil
	})
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if !slices.Equal(failed, []string{"fails", "panics"}) || len(seen) != 4 {
		t.Fatalf("failed %v (seen %v), want fails and panics only, every message tried", failed, seen)
	}
}

type fakeSQS struct {
	batches [][]string
	refuse  int // refuse this many messages of each batch
	err     error
	one     []string
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	var bodies []string
	for _, e := range in.Entries {
		bodies = append(bodies, aws.ToString(e.MessageBody))
	}
	f.batches = append(f.batches, bodies)
	out := &sqs.SendMessageBatchOutput{}
	for i := 0; i < f.refuse && i < len(in.Entries); i++ {
		out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: in.Entries[i].Id, Code: aws.String("Throttled")})
	}
	return out, nil
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.one = append(f.one, aws.ToString(in.MessageBody))
	return &sqs.SendMessageOutput{}, nil
}

func TestSendPurges(t *testing.T) {
	ids := make([]string, 23)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", i)
	}
	tests := []struct {
		name      string
		ids       []string
		sqs       *fakeSQS
		wantSizes []int
		wantErr   bool
	}{
		{"ten per call", ids, &fakeSQS{}, []int{10, 10, 3}, false},
		{"nothing to send", nil, &fakeSQS{}, nil, false},
		{"refused messages fail the send", ids, &fakeSQS{refuse: 1}, []int{10}, true},
		{"client error", ids, &fakeSQS{err: errors.New("down")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := queue.Sender{SQS: tt.sqs, QueueURL: "q"}.SendPurges(context.Background(), tt.ids)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			var sizes []int
			var sent []string
			for _, b := range tt.sqs.batches {
				sizes = append(sizes, len(b))
				sent = append(sent, b...)
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Fatalf("batch sizes %v, want %v", sizes, tt.wantSizes)
			}
			if !tt.wantErr {
				for i, body := range sent {
					if body != deletion.Encode(tt.ids[i]) {
						t.Fatalf("message %d = %s, want %s", i, body, deletion.Encode(tt.ids[i]))
					}
				}
			}
		})
	}
}

func TestSingle(t *testing.T) {
	f := &fakeSQS{}
	if err := (queue.Single{SQS: f, QueueURL: "q"}).Send(context.Background(), "body"); err != nil || !slices.Equal(f.one, []string{"body"}) {
		t.Fatalf("sent %v, err %v", f.one, err)
	}
	f.err = errors.New("down")
	if err := (queue.Single{SQS: f, QueueURL: "q"}).Send(context.Background(), "body"); err == nil {
		t.Fatal("want the client's error")
	}
}
