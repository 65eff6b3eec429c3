// Package deletion runs the delayed deletions: SQS cannot delay a message
// by 30 days (DelaySeconds <= 900), so a due job lives in the table, a
// scheduled sweeper moves due jobs to the purge queue, and the purge worker
// erases the person, resumably, and leaves only a deletion receipt.
package deletion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// Status is where a job is in its life:
// pending → queued → purging → done, or pending/queued → cancelled.
type Status string

// The job statuses.
const (
	StatusPending   Status = "pending"
	StatusQueued    Status = "queued"
	StatusPurging   Status = "purging"
	StatusDone      Status = "done"
	StatusCancelled Status = "cancelled"
)

// Delay is how long after the death notice's receipt the data is deleted.
const Delay = 30 * 24 * time.Hour

// Job is a delayed deletion of everything about one person.
type Job struct {
	ID     string
	Person personkey.Key
	Reason consent.Reason
	// Scope is what the purge erases; empty means everything (a death).
	Scope  consent.Scope
	Status Status
	DueAt  time.Time
}

// Jobs stores the jobs. Due must be a Query on an index, never a Scan, and
// read only jobs that are due.
type Jobs interface {
	// Due returns up to limit ids of pending jobs due at or before now.
	Due(ctx context.Context, now time.Time, limit int32) ([]string, error)
	// MarkQueued moves a pending job to queued; any other status is left alone.
	MarkQueued(ctx context.Context, id string) error
	// Start claims a job for purging: in one conditional write it moves a
	// pending, queued or purging job whose due time is at or before now to
	// purging and returns it. ok is false if the job is cancelled, done or
	// unknown; a job that is open but not yet due is left exactly as it was
	// and Start returns ErrNotDue.
	Start(ctx context.Context, id string, now time.Time) (job Job, ok bool, err error)
	// Finish marks a purging job done.
	Finish(ctx context.Context, id string, at time.Time) error
}

// Queue sends job ids to the purge queue.
type Queue interface {
	SendPurges(ctx context.Context, ids []string) error
}

// Receipts creates a deletion receipt unless it exists.
type Receipts interface {
	EnsureReceipt(ctx context.Context, key personkey.Key, r consent.Receipt) error
}

// Deaths records that a deceased person's data is gone.
type Deaths interface {
	MarkPurged(ctx context.Context, key personkey.Key, jobID string) error
}

// ErrNotDue is returned by Jobs.Start for a job whose due time is still
// ahead: a purge message for it (a redrive, a message sent by hand) must
// never delete early.
var ErrNotDue = errors.New("deletion job is not due yet")

// Message is the purge queue's message body.
type Message struct {
	Version int    `json:"version"`
	JobID   string `json:"jobId"`
}

// Encode returns the purge message for a job.
func Encode(jobID string) string {
	b, _ := json.Marshal(Message{Version: 1, JobID: jobID})
	return string(b)
}

// ErrBadMessage marks a purge message this code cannot read.
var ErrBadMessage = errors.New("bad purge message")

// Decode reads a purge message.
func Decode(body string) (string, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return "", fmt.Errorf("%w: not JSON", ErrBadMessage)
	}
	if m.Version != 1 || m.JobID == "" || len(m.JobID) > 128 {
		return "", fmt.Errorf("%w: version %d, job id length %d", ErrBadMessage, m.Version, len(m.JobID))
	}
	return m.JobID, nil
}

// Sweeper moves due jobs to the purge queue.
type Sweeper struct {
	Jobs  Jobs
	Queue Queue
	Now   func() time.Time
	Log   *slog.Logger
	// Page is how many due jobs one Query reads (default 100).
	Page int32
}

// Sweep queues every job due now, a page at a time. It sends before it
// marks, so a crash in between sends a job twice (the purge worker is
// idempotent) rather than never. It returns how many jobs it queued.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	page := s.Page
	if page <= 0 {
		page = 100
	}
	now := s.Now()
	total := 0
	// The index is eventually consistent: a job just marked queued may come
	// back for a moment. Each job is sent once per sweep, and a page with
	// nothing new ends it (the next sweep picks up whatever is left).
	seen := map[string]bool{}
	for {
		found, err := s.Jobs.Due(ctx, now, page)
		if err != nil {
			return total, fmt.Errorf("find due jobs: %w", err)
		}
		var ids []string
		for _, id := range found {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			break
		}
		if err := s.Queue.SendPurges(ctx, ids); err != nil {
			return total, fmt.Errorf("send %d jobs to the purge queue: %w", len(ids), err)
		}
		for _, id := range ids {
			if err := s.Jobs.MarkQueued(ctx, id); err != nil {
				return total, fmt.Errorf("mark job queued: %w", err)
			}
		}
		total += len(ids)
	}
	s.Log.InfoContext(ctx, "sweep done", "queued", total, "now", now.UTC().Format(time.RFC3339))
	return total, nil
}

// Purger carries out one job.
type Purger struct {
	Jobs     Jobs
	Receipts Receipts
	Eraser   consent.Eraser
	Deaths   Deaths
	Now      func() time.Time
	Log      *slog.Logger
	// Metrics, if set, is told of every finished purge.
	Metrics PurgeMetrics
}

// Purge erases the job's person, keeping only deletion receipts and the
// death marker. Every step is idempotent, so a crash at any point is
// finished by the redelivered message. A cancelled or finished job is a
// successful no-op.
//
// A message for a job that is not due yet is left alone: nothing is
// deleted, the job keeps its status, the message is consumed (the sweeper
// queues the job again when it is due), and the refusal is logged and
// counted (PurgesNotDue).
func (p *Purger) Purge(ctx context.Context, jobID string) error {
	job, ok, err := p.Jobs.Start(ctx, jobID, p.Now().UTC())
	if errors.Is(err, ErrNotDue) {
		p.Log.WarnContext(ctx, "purge refused: job not due yet; nothing deleted", "job", jobID)
		if p.Metrics != nil {
			p.Metrics.NotDue(ctx)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("start job: %w", err)
	}
	if !ok {
		p.Log.InfoContext(ctx, "purge skipped: job cancelled, done or unknown", "job", jobID)
		return nil
	}
	r := consent.Receipt{ID: job.ID, Reason: job.Reason, Status: consent.ReceiptDeleting, StartedAt: p.Now().UTC()}
	if err := p.Receipts.EnsureReceipt(ctx, job.Person, r); err != nil {
		return fmt.Errorf("create receipt: %w", err)
	}
	scope := job.Scope
	if scope == "" {
		scope = consent.ScopeEverything
	}
	r, err = p.Eraser.Erase(ctx, job.Person, job.ID, scope)
	if err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	if job.Reason == consent.ReasonDeath {
		if err := p.Deaths.MarkPurged(ctx, job.Person, job.ID); err != nil {
			return fmt.Errorf("mark purged: %w", err)
		}
	}
	if err := p.Jobs.Finish(ctx, job.ID, p.Now().UTC()); err != nil {
		return fmt.Errorf("finish job: %w", err)
	}
	deleted := 0
	for _, n := range r.Deleted {
		deleted += n
	}
	p.Log.InfoContext(ctx, "purged", "job", job.ID, "items", deleted)
	if p.Metrics != nil {
		p.Metrics.Purged(ctx, string(job.Reason), deleted)
	}
	return nil
}
