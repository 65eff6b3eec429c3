package deletion_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/personkey"
)

// fakeJobs keeps jobs in memory and logs the calls that change them.
type fakeJobs struct {
	due   []string
	calls []string
	jobs  map[string]deletion.Job
}

func (f *fakeJobs) Due(_ context.Context, _ time.Time, limit int32) ([]string, error) {
	n := min(int(limit), len(f.due))
	return append([]string(nil), f.due[:n]...), nil
}

func (f *fakeJobs) MarkQueued(_ context.Context, id string) error {
	f.calls = append(f.calls, "queued "+id)
	for i, d := range f.due {
		if d == id {
			f.due = append(f.due[:i], f.due[i+1:]...)
			break
		}
	}
	return nil
}

func (f *fakeJobs) Start(_ context.Context, id string, now time.Time) (deletion.Job, bool, error) {
	j, ok := f.jobs[id]
	if !ok || j.Status == deletion.StatusDone || j.Status == deletion.StatusCancelled {
		return deletion.Job{}, false, nil
	}
	if j.DueAt.After(now) {
		return deletion.Job{}, false, deletion.ErrNotDue
	}
	j.Status = deletion.StatusPurging
	f.jobs[id] = j
	f.calls = append(f.calls, "start "+id)
	return j, true, nil
}

func (f *fakeJobs) Finish(_ context.Context, id string, _ time.Time) error {
	j := f.jobs[id]
	j.Status = deletion.StatusDone
	f.jobs[id] = j
	f.calls = append(f.calls, "finish "+id)
	return nil
}

type fakeQueue struct {
	calls *[]string
	fail  bool
}

func (q fakeQueue) SendPurges(_ context.Context, ids []string) error {
	if q.fail {
		return errors.New("queue down")
	}
	*q.calls = append(*q.calls, fmt.Sprint("send ", ids))
	return nil
}

func TestSweepSendsBeforeMarking(t *testing.T) {
	tests := []struct {
		name      string
		due       []string
		page      int32
		queueDown bool
		want      string
		wantN     int
	}{
		{"nothing due", nil, 2, false, "[]", 0},
		{"one page", []string{"a", "b"}, 5, false, "[send [a b] queued a queued b]", 2},
		{"two pages", []string{"a", "b", "c"}, 2, false, "[send [a b] queued a queued b send [c] queued c]", 3},
		{"queue down marks nothing", []string{"a"}, 2, true, "[]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := &fakeJobs{due: tt.due}
			s := &deletion.Sweeper{Jobs: jobs, Queue: fakeQueue{calls: &jobs.calls, fail: tt.queueDown}, Page: tt.page,
				Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			n, err := s.Sweep(context.Background())
			if (err != nil) != tt.queueDown {
				t.Fatalf("err %v", err)
			}
			if got := fmt.Sprint(jobs.calls); got != tt.want || n != tt.wantN {
				t.Errorf("got %s (%d), want %s (%d)", got, n, tt.want, tt.wantN)
			}
		})
	}
}

type fakeStore struct {
	calls *[]string
}

func (f fakeStore) EnsureReceipt(_ context.Context, _ personkey.Key, r consent.Receipt) error {
	*f.calls = append(*f.calls, "receipt "+r.ID)
	return nil
}

func (f fakeStore) Erase(_ context.Context, _ personkey.Key, id string, scope consent.Scope, _ consent.Slice) (consent.Receipt, error) {
	*f.calls = append(*f.calls, "erase "+id+" "+string(scope))
	return consent.Receipt{ID: id, Status: consent.ReceiptDone}, nil
}

func (f fakeStore) MarkPurged(_ context.Context, _ personkey.Key, id string) error {
	*f.calls = append(*f.calls, "purged "+id)
	return nil
}

func TestPurge(t *testing.T) {
	tests := []struct {
		name       string
		status     deletion.Status
		due        time.Duration // after now
		want       string
		wantNotDue int
	}{
		{"queued job", deletion.StatusQueued, -time.Hour, "[start j receipt j erase j everything purged j finish j]", 0},
		{"crashed while purging", deletion.StatusPurging, -time.Hour, "[start j receipt j erase j everything purged j finish j]", 0},
		{"cancelled by an annulment", deletion.StatusCancelled, -time.Hour, "[]", 0},
		{"already done", deletion.StatusDone, -time.Hour, "[]", 0},
		{"pending, due in 29 days", deletion.StatusPending, 29 * 24 * time.Hour, "[]", 1},
		{"queued, due in a second", deletion.StatusQueued, time.Second, "[]", 1},
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := &fakeJobs{jobs: map[string]deletion.Job{"j": {ID: "j", Person: "k", Reason: consent.ReasonDeath, Status: tt.status, DueAt: now.Add(tt.due)}}}
			st := fakeStore{calls: &jobs.calls}
			m := &countingMetrics{}
			p := &deletion.Purger{Jobs: jobs, Receipts: st, Eraser: st, Deaths: st, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m}
			if err := p.Purge(context.Background(), deletion.Message{Version: 1, JobID: "j"}); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(jobs.calls); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if m.notDue != tt.wantNotDue {
				t.Errorf("not-due count: got %d, want %d", m.notDue, tt.wantNotDue)
			}
			if got := jobs.jobs["j"].Status; tt.wantNotDue > 0 && got != tt.status {
				t.Errorf("a job that is not due changed status: got %s, want %s", got, tt.status)
			}
		})
	}
}

type countingMetrics struct{ notDue, purged int }

func (m *countingMetrics) Purged(context.Context, string, int) { m.purged++ }
func (m *countingMetrics) NotDue(context.Context)              { m.notDue++ }

func TestMessageRoundTrip(t *testing.T) {
	m, err := deletion.Decode(deletion.Encode("death-abc"))
	if err != nil || m.JobID != "death-abc" || m.Cursor != "" {
		t.Fatalf("got %+v %v", m, err)
	}
	m, err = deletion.Decode(deletion.EncodeAt("w-1", "USAGE#2026-11-01#7"))
	if err != nil || m.JobID != "w-1" || m.Cursor != "USAGE#2026-11-01#7" {
		t.Fatalf("continuation: got %+v %v", m, err)
	}
	for _, bad := range []string{"", "{", `{"version":2,"jobId":"x"}`, `{"version":1}`, `{"version":1,"jobId":""}`} {
		if _, err := deletion.Decode(bad); !errors.Is(err, deletion.ErrBadMessage) {
			t.Errorf("Decode(%q): got %v, want ErrBadMessage", bad, err)
		}
	}
}
