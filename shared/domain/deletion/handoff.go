package deletion

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// JobCreator creates a job unless one with its id exists.
type JobCreator interface {
	Create(ctx context.Context, j Job) (created bool, err error)
}

// Handoff implements consent.Background with the delayed-deletion
// machinery: a withdrawal's erase that does not finish in the request
// becomes a job due now, named by the receipt's id, which the purge worker
// finishes in slices (the same job a death or a paper-form withdrawal
// runs). The job exists before the erase starts, so a request that dies
// half-way is finished by the sweeper's next run.
type Handoff struct {
	Jobs interface {
		JobCreator
		MarkQueued(ctx context.Context, id string) error
		Finish(ctx context.Context, id string, at time.Time) error
	}
	Queue Continuer
	Now   func() time.Time
	Log   *slog.Logger
}

// Prepare implements consent.Background.
func (h *Handoff) Prepare(ctx context.Context, key personkey.Key, receiptID string, reason consent.Reason, scope consent.Scope) (bool, error) {
	created, err := h.Jobs.Create(ctx, Job{ID: receiptID, Person: key, Reason: reason, Scope: scope, Status: StatusPending, DueAt: h.Now().UTC()})
	if err != nil {
		return false, fmt.Errorf("create job: %w", err)
	}
	return created, nil
}

// Hand implements consent.Background: it sends the job to the purge queue.
// If the queue refuses, the job stays pending and due, and the next sweep
// queues it: the person's erase is late, never lost, so the request does
// not fail for it.
func (h *Handoff) Hand(ctx context.Context, receiptID, next string) error {
	if err := h.Queue.Continue(ctx, receiptID, next); err != nil {
		h.Log.ErrorContext(ctx, "erase hand-off not queued; the next sweep queues the job", "job", receiptID, "err", err)
		return nil
	}
	if err := h.Jobs.MarkQueued(ctx, receiptID); err != nil {
		return fmt.Errorf("mark job queued: %w", err)
	}
	return nil
}

// Close implements consent.Background.
func (h *Handoff) Close(ctx context.Context, receiptID string) error {
	return h.Jobs.Finish(ctx, receiptID, h.Now().UTC())
}
