package localrun

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/infra/emulator"
	"privacycore/infra/stack"
	"privacycore/shared/wire"
)

// SQS adapts a typed SQS-consumer constructor to a Builder.
func SQS(build func(wire.Env) (wire.SQSHandler, error)) Builder {
	return func(e wire.Env) (any, error) {
		h, err := build(e)
		if err != nil {
			return nil, err
		}
		return wire.Observe(e, h), nil // as wire.Start does in Lambda
	}
}

// QueueAPI is the part of the SQS client the queue pollers use.
type QueueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

const (
	// pollWait is the long-poll wait: short, so that the pollers stop quickly.
	pollWait = 1
	// maxReceive is SQS's limit on messages per ReceiveMessage.
	maxReceive = 10
	// MaxRetryDelay is SQS's limit on a message's visibility timeout.
	MaxRetryDelay = 12 * time.Hour
	// receiveBackoff is the pause after a failed ReceiveMessage.
	receiveBackoff = time.Second
	// settleTimeout bounds deleting a batch, which is done even when the
	// runner is stopping so that finished work is not redelivered.
	settleTimeout = 5 * time.Second
)

// consumer is one SQS event source of one function.
type consumer struct {
	Function string
	stack.Subscription
	Queue   stack.Queue
	URL     string
	ARN     string
	Handler wire.SQSHandler
	api     QueueAPI
}

// pollers is the state of the queue pollers.
type pollers struct {
	mu      sync.Mutex
	started bool
	wg      sync.WaitGroup
}

var errStarted = errors.New("localrun: the queue pollers are already started")

// queueARN is the ARN a queue has in the emulator's account and region, the
// same one !GetAtt Queue.Arn resolves to.
func queueARN(name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", emulator.Region, emulator.AccountID, name)
}

// addConsumers records a function's SQS event sources.
func (r *Runner) addConsumers(f stack.Function, h any) error {
	if len(f.Queues) == 0 {
		return nil
	}
	sh, ok := h.(wire.SQSHandler)
	if !ok {
		return fmt.Errorf("function %s has SQS events but its handler is %T", f.LogicalID, h)
	}
	for _, s := range f.Queues {
		q, ok := r.queue(s.Queue)
		if !ok {
			return fmt.Errorf("function %s, event %s: %s is not an AWS::SQS::Queue of the template", f.LogicalID, s.Event, s.Queue)
		}
		r.consumers = append(r.consumers, consumer{
			Function: f.LogicalID, Subscription: s, Queue: q,
			URL: r.Local.QueueURLs[q.LogicalID], ARN: queueARN(q.Name), Handler: sh, api: r.Local.SQS,
		})
	}
	return nil
}

func (r *Runner) queue(logicalID string) (stack.Queue, bool) {
	for _, q := range r.Local.Resolved.Queues {
		if q.LogicalID == logicalID {
			return q, true
		}
	}
	return stack.Queue{}, false
}

// Start starts one poller per SQS event source of the template; they stop
// when ctx ends (Wait waits for them). Set RetryDelay before calling it.
// Serve calls Start itself; call Start directly only to run the pollers
// without Serve (with ServeHTTP on another server, say). Starting twice is
// an error.
func (r *Runner) Start(ctx context.Context) error {
	if r.RetryDelay < 0 || r.RetryDelay > MaxRetryDelay {
		return fmt.Errorf("localrun: RetryDelay %s is outside 0..%s", r.RetryDelay, MaxRetryDelay)
	}
	r.pollers.mu.Lock()
	defer r.pollers.mu.Unlock()
	if r.pollers.started {
		return errStarted
	}
	r.pollers.started = true
	for i := range r.consumers {
		r.pollers.wg.Add(1)
		go func(c *consumer) {
			defer r.pollers.wg.Done()
			r.poll(ctx, c)
		}(&r.consumers[i])
	}
	return nil
}

// Wait blocks until every poller Start started has stopped.
func (r *Runner) Wait() { r.pollers.wg.Wait() }

// startOwned starts the pollers for Serve and reports whether it did; false
// with no error means Start was called before.
func (r *Runner) startOwned(ctx context.Context) (bool, error) {
	err := r.Start(ctx)
	if errors.Is(err, errStarted) {
		return false, nil
	}
	return err == nil, err
}

// poll long-polls one queue and delivers each batch, one at a time, until
// ctx ends.
func (r *Runner) poll(ctx context.Context, c *consumer) {
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(c.URL),
		MaxNumberOfMessages:         int32(min(c.BatchSize, maxReceive)),
		WaitTimeSeconds:             pollWait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	for ctx.Err() == nil {
		out, err := c.api.ReceiveMessage(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.Log.Error("receive from queue", "function", c.Function, "queue", c.Queue.LogicalID, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(receiveBackoff):
			}
			continue
		}
		if len(out.Messages) > 0 {
			r.deliver(ctx, c, out.Messages)
		}
	}
}

// deliver calls the handler with one batch and settles the batch as the
// Lambda event source mapping does.
func (r *Runner) deliver(ctx context.Context, c *consumer, msgs []types.Message) {
	id := newRequestID()
	hctx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id})
	start := time.Now()
	resp, err := invokeSQS(hctx, c.Handler, sqsEvent(msgs, c.ARN, emulator.Region))
	done, failed, reason := settle(msgs, resp, err, c.ReportItemFailures)

	// Finished work is acknowledged even if the runner is stopping.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	serr := acknowledge(sctx, c.api, c.URL, done, failed, r.RetryDelay)

	attrs := []any{
		"function", c.Function, "queue", c.Queue.LogicalID, "requestId", id,
		"count", len(msgs), "failures", len(failed), "durationMs", time.Since(start).Milliseconds(),
	}
	if reason != "" {
		attrs = append(attrs, "batchFailed", reason)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	switch {
	case serr != nil:
		r.Log.Error("sqs batch: settling failed", append(attrs, "settleErr", serr)...)
	case len(failed) > 0:
		r.Log.Warn("sqs batch", attrs...)
	default:
		r.Log.Info("sqs batch", attrs...)
	}
}

// invokeSQS calls h; a panic is an invocation error, as in the Lambda runtime.
func invokeSQS(ctx context.Context, h wire.SQSHandler, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = events.SQSEventResponse{}, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, ev)
}

// sqsEvent converts received messages into the event Lambda passes an SQS
// consumer.
func sqsEvent(msgs []types.Message, arn, region string) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             make(map[string]string, len(m.Attributes)),
			MessageAttributes:      make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
			EventSource:            "aws:sqs",
			EventSourceARN:         arn,
			AWSRegion:              region,
		}
		for k, v := range m.Attributes {
			rec.Attributes[k] = v
		}
		for k, v := range m.MessageAttributes {
			// Lambda sends the list fields as empty arrays, never null.
			a := events.SQSMessageAttribute{
				StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType),
				StringListValues: v.StringListValues, BinaryListValues: v.BinaryListValues,
			}
			if a.StringListValues == nil {
				a.StringListValues = []string{}
			}
			if a.BinaryListValues == nil {
				a.BinaryListValues = [][]byte{}
			}
			rec.MessageAttributes[k] = a
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

// settle decides, as Lambda's SQS event source mapping does, which messages
// of a batch are done (to delete) and which failed (left on the queue to be
// redelivered, and dead-lettered after maxReceiveCount). A handler error
// fails the whole batch. Without ReportBatchItemFailures a success completes
// the whole batch, whatever the response says. With it, the messages listed
// in BatchItemFailures fail; a listed identifier that is empty or names no
// message of the batch fails the whole batch. reason says why a whole batch
// failed.
func settle(msgs []types.Message, resp events.SQSEventResponse, err error, reportItemFailures bool) (done, failed []types.Message, reason string) {
	if err != nil {
		return nil, msgs, "handler returned an error"
	}
	if !reportItemFailures {
		return msgs, nil, ""
	}
	inBatch := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		inBatch[aws.ToString(m.MessageId)] = true
	}
	failedIDs := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		switch {
		case f.ItemIdentifier == "":
			return nil, msgs, "batchItemFailures has an empty itemIdentifier"
		case !inBatch[f.ItemIdentifier]:
			return nil, msgs, fmt.Sprintf("batchItemFailures names %q, which is not a message of the batch", f.ItemIdentifier)
		}
		failedIDs[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if failedIDs[aws.ToString(m.MessageId)] {
			failed = append(failed, m)
		} else {
			done = append(done, m)
		}
	}
	return done, failed, ""
}

// acknowledge deletes the done messages and, when retryDelay > 0, makes the
// failed ones visible again after retryDelay (rounded up to whole seconds)
// instead of after the queue's visibility timeout. A batch has at most 10
// messages, SQS's limit for both batch calls.
func acknowledge(ctx context.Context, api QueueAPI, url string, done, failed []types.Message, retryDelay time.Duration) error {
	var errs []error
	if len(done) > 0 {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(done))
		for i, m := range done {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("delete %d messages: %w", len(done), err))
		case len(out.Failed) > 0:
			errs = append(errs, fmt.Errorf("delete: %d of %d messages not deleted (first: %s %s)",
				len(out.Failed), len(done), aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message)))
		}
	}
	if retryDelay > 0 && len(failed) > 0 {
		secs := int32((retryDelay + time.Second - 1) / time.Second)
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(failed))
		for i, m := range failed {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: secs}
		}
		out, err := api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("set the visibility of %d failed messages: %w", len(failed), err))
		case len(out.Failed) > 0:
			errs = append(errs, fmt.Errorf("set visibility: %d of %d messages failed (first: %s %s)",
				len(out.Failed), len(failed), aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message)))
		}
	}
	return errors.Join(errs...)
}
