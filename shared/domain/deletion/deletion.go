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
	// Finish marks an open (pending, queued or purging) job done.
	Finish(ctx context.Context, id string, at time.Time) error
}

// Continuer sends a purge message that continues a job after cursor: how a
// long erase goes on in the next invocation instead of timing out.
type Continuer interface {
	Continue(ctx context.Context, jobID, cursor string) error
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

// Message is the purge queue's message body. Cursor, in a continuation,
// is where the erase goes on (everything before it is erased); a message
// without one starts from the beginning of the partition, which is always
// safe, only slower.
type Message struct {
	Version int    `json:"version"`
	JobID   string `json:"jobId"`
	Cursor  string `json:"cursor,omitempty"`
}

// Encode returns the purge message for a job.
func Encode(jobID string) string { return EncodeAt(jobID, "") }

// EncodeAt returns the purge message that continues a job after cursor.
func EncodeAt(jobID, cursor string) string {
	b, _ := json.Marshal(Message{Version: 1, JobID: jobID, Cursor: cursor})
	return string(b)
}

// ErrBadMessage marks a purge message this code cannot read.
var ErrBadMessage = errors.New("bad purge message")

// Decode reads a purge message.
func Decode(body string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Message{}, fmt.Errorf("%w: not JSON", ErrBadMessage)
	}
	if m.Version != 1 || m.JobID == "" || len(m.JobID) > 128 || len(m.Cursor) > 1024 {
		return Message{}, fmt.Errorf("%w: version %d, job id length %d, cursor length %d", ErrBadMessage, m.Version, len(m.JobID), len(m.Cursor))
	}
	return m, nil
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

// DefaultSlice is how long one purge invocation erases before it sends a
// continuation and stops (the purge function's timeout is 60 s).
const DefaultSlice = 40 * time.Second

// sliceMargin is kept free before the invocation's deadline for the
// continuation and the job's bookkeeping.
const sliceMargin = 10 * time.Second

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
	// Continue, if set, receives the continuation of a job that did not
	// finish within Slice; without it the purge erases to the end.
	Continue Continuer
	// Slice bounds the erase of one invocation (0: DefaultSlice), and so
	// does the invocation's deadline (less a margin).
	Slice time.Duration
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
//
// A job too large for one invocation is erased in slices: at the slice's
// bound the purger sends a continuation carrying its cursor and returns;
// the job stays purging and the receipt deleting until the last slice.
func (p *Purger) Purge(ctx context.Context, m Message) error {
	jobID := m.JobID
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
	r, err = p.Eraser.Erase(ctx, job.Person, job.ID, scope, p.slice(ctx, m.Cursor))
	if err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	if r.Status != consent.ReceiptDone {
		if err := p.Continue.Continue(ctx, job.ID, r.Next); err != nil {
			return fmt.Errorf("send continuation: %w", err)
		}
		p.Log.InfoContext(ctx, "purge continues in the next invocation", "job", job.ID, "countedSoFar", total(r.Deleted))
		return nil
	}
	if job.Reason == consent.ReasonDeath {
		if err := p.Deaths.MarkPurged(ctx, job.Person, job.ID); err != nil {
			return fmt.Errorf("mark purged: %w", err)
		}
	}
	if err := p.Jobs.Finish(ctx, job.ID, p.Now().UTC()); err != nil {
		return fmt.Errorf("finish job: %w", err)
	}
	deleted := total(r.Deleted)
	p.Log.InfoContext(ctx, "purged", "job", job.ID, "items", deleted)
	if p.Metrics != nil {
		p.Metrics.Purged(ctx, string(job.Reason), deleted)
	}
	return nil
}

// slice is the bound of this invocation's erase.
func (p *Purger) slice(ctx context.Context, after string) consent.Slice {
	if p.Continue == nil {
		return consent.Slice{After: after}
	}
	d := p.Slice
	if d <= 0 {
		d = DefaultSlice
	}
	until := p.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok {
		// The deadline is wall-clock time; the clock may be shifted (the
		// local runner's), so bound by what is left rather than by dl.
		if left := time.Until(dl) - sliceMargin; left < d {
			until = p.Now().Add(max(left, time.Second))
		}
	}
	return consent.Slice{Until: until, After: after}
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}
