// Package queue adapts SQS: a batch loop that reports partial failures
// (Batch), a sender of purge jobs in batches of ten (Sender) and a sender of
// single messages, for paper forms (Single).
package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/shared/domain/deletion"
)

// Batch applies fn to each message and reports the ones that failed, so SQS
// retries only those (FunctionResponseTypes: ReportBatchItemFailures) and a
// poison message never holds back the rest of its batch. A panic in fn
// fails that message only.
func Batch(ctx context.Context, log *slog.Logger, ev events.SQSEvent, fn func(context.Context, events.SQSMessage) error) events.SQSEventResponse {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := safely(ctx, m, fn); err != nil {
			log.ErrorContext(ctx, "message failed; SQS will retry it, then move it to the dead-letter queue",
				"messageId", m.MessageId, "receiveCount", m.Attributes["ApproximateReceiveCount"], "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp
}

func safely(ctx context.Context, m events.SQSMessage, fn func(context.Context, events.SQSMessage) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, m)
}

// SendAPI is the part of the SQS client Sender uses.
type SendAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Sender sends purge jobs to the purge queue.
type Sender struct {
	SQS      SendAPI
	QueueURL string
}

// SendPurges implements deletion.Queue, ten messages per call.
func (s Sender) SendPurges(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(10, len(ids))
		entries := make([]types.SendMessageBatchRequestEntry, 0, n)
		for i, id := range ids[:n] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(deletion.Encode(id))})
		}
		out, err := s.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.QueueURL, Entries: entries})
		if err != nil {
			return fmt.Errorf("send purge batch: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("send purge batch: %d of %d messages refused (%s)", len(out.Failed), n, aws.ToString(out.Failed[0].Code))
		}
		ids = ids[n:]
	}
	return nil
}

// Continue implements deletion.Continuer: one purge message carrying the
// job's cursor.
func (s Sender) Continue(ctx context.Context, jobID, cursor string) error {
	out, err := s.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.QueueURL, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("0"), MessageBody: aws.String(deletion.EncodeAt(jobID, cursor))},
	}})
	if err != nil {
		return fmt.Errorf("send continuation: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("send continuation: refused (%s)", aws.ToString(out.Failed[0].Code))
	}
	return nil
}

// SendOneAPI is the part of the SQS client Single uses.
type SendOneAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Single sends one message at a time to a queue.
type Single struct {
	SQS      SendOneAPI
	QueueURL string
}

// Send sends body.
func (s Single) Send(ctx context.Context, body string) error {
	if _, err := s.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: &body}); err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	return nil
}

// Requeue implements notices.Requeuer: the notice goes to the back of its
// queue again, as a new message (a continuation, not a retry: its receive
// count starts at zero), delivered after delay (at most SQS's 15 minutes).
func (s Single) Requeue(ctx context.Context, body []byte, delay time.Duration) error {
	in := &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String(string(body)), DelaySeconds: int32(min(delay, 15*time.Minute) / time.Second)}
	if _, err := s.SQS.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	return nil
}
