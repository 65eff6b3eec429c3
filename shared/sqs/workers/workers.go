// Package workers holds the SQS consumers: population-register notices,
// purges of due deletion jobs, and paper forms. Each decodes a message, hands
// it to one domain service and reports partial batch failures (queue.Batch).
package workers

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/notices"
	"privacycore/shared/sqs/queue"
)

// Notices consumes the register notices queue.
type Notices struct {
	Processor *notices.Processor
	Log       *slog.Logger
	Now       func() time.Time
	// Metrics, if set, counts notices by type and outcome.
	Metrics NoticeMetrics
}

// NoticeMetrics counts notices (package metrics implements it).
type NoticeMetrics interface {
	Notice(ctx context.Context, noticeType, outcome string)
}

// Handle is the Lambda entry point.
func (w *Notices) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return queue.Batch(ctx, w.Log, ev, w.one), nil
}

func (w *Notices) one(ctx context.Context, m events.SQSMessage) error {
	o, err := w.Processor.Apply(ctx, []byte(m.Body), sentAt(m, w.Now))
	if err != nil {
		outcome := "failed" // retried; may still succeed
		if notices.Permanent(err) {
			// Never succeeds: it fails every delivery until SQS moves it to
			// the dead-letter queue, where an operator can read it.
			w.Log.ErrorContext(ctx, "notice rejected; it will end in the dead-letter queue",
				"messageId", m.MessageId, "noticeId", notices.NoticeID([]byte(m.Body)), "reason", err.Error())
			outcome = "rejected"
		}
		w.count(ctx, m, outcome)
		return err
	}
	w.Log.InfoContext(ctx, "notice applied", "messageId", m.MessageId, "noticeId", notices.NoticeID([]byte(m.Body)), "outcome", string(o))
	w.count(ctx, m, string(o))
	return nil
}

// count reports a notice's type (only a valid type: the dimension stays a
// closed set) and outcome.
func (w *Notices) count(ctx context.Context, m events.SQSMessage, outcome string) {
	if w.Metrics == nil {
		return
	}
	typ := "unreadable"
	if n, err := notices.Parse([]byte(m.Body)); err == nil {
		typ = string(n.Type)
	}
	w.Metrics.Notice(ctx, typ, outcome)
}

// sentAt is when SQS first accepted the message: the receipt time the
// 30-day deletion counts from, the same on every redelivery.
func sentAt(m events.SQSMessage, now func() time.Time) time.Time {
	if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC()
	}
	return now().UTC()
}

// Purges consumes the purge queue.
type Purges struct {
	Purger *deletion.Purger
	Log    *slog.Logger
}

// Handle is the Lambda entry point.
func (w *Purges) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return queue.Batch(ctx, w.Log, ev, func(ctx context.Context, m events.SQSMessage) error {
		msg, err := deletion.Decode(m.Body)
		if err != nil {
			return err
		}
		return w.Purger.Purge(ctx, msg)
	}), nil
}

// Forms consumes the forms queue.
type Forms struct {
	Processor *forms.Processor
	Log       *slog.Logger
}

// Handle is the Lambda entry point.
func (w *Forms) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return queue.Batch(ctx, w.Log, ev, func(ctx context.Context, m events.SQSMessage) error {
		work, err := forms.DecodeWork(m.Body)
		if err != nil {
			return err
		}
		status, reason, err := w.Processor.Apply(ctx, work)
		if err != nil {
			return err
		}
		w.Log.InfoContext(ctx, "form decided", "form", work.FormID, "kind", string(work.Kind), "status", string(status), "reason", reason)
		return nil
	}), nil
}
