package deletion_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/personkey"
)

type fakeOpen struct {
	gotStatuses []deletion.Status
	gotBefore   time.Time
	n           int
	err         error
}

func (f *fakeOpen) CountOpen(_ context.Context, statuses []deletion.Status, t time.Time) (int, error) {
	f.gotStatuses, f.gotBefore = statuses, t
	return f.n, f.err
}

func TestOverdue(t *testing.T) {
	now := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		n       int
		err     error
		want    int
		wantErr bool
	}{
		{"none", 0, nil, 0, false},
		{"some", 3, nil, 3, false},
		{"store down", 0, errors.New("throttled"), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeOpen{n: tt.n, err: tt.err}
			got, err := deletion.Overdue(context.Background(), f, now)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
			if want := now.Add(-24 * time.Hour); !f.gotBefore.Equal(want) {
				t.Errorf("counted jobs due before %s, want %s", f.gotBefore, want)
			}
			want := []deletion.Status{deletion.StatusPending, deletion.StatusQueued, deletion.StatusPurging}
			if !slices.Equal(f.gotStatuses, want) {
				t.Errorf("counted statuses %v, want %v", f.gotStatuses, want)
			}
		})
	}
}

type countingEraser struct{ fakeStore }

func (countingEraser) Erase(_ context.Context, _ personkey.Key, id string, _ consent.Scope, _ consent.Slice) (consent.Receipt, error) {
	return consent.Receipt{ID: id, Status: consent.ReceiptDone, Deleted: map[string]int{"consentlog": 3, "poa": 2}}, nil
}

type purgeRecorder struct{ got []string }

func (r *purgeRecorder) Purged(_ context.Context, reason string, items int) {
	r.got = append(r.got, fmt.Sprintf("%s %d", reason, items))
}

func (r *purgeRecorder) NotDue(context.Context) { r.got = append(r.got, "not due") }

func TestPurgeMetrics(t *testing.T) {
	tests := []struct {
		name   string
		status deletion.Status
		reason consent.Reason
		want   []string
	}{
		{"death purged", deletion.StatusQueued, consent.ReasonDeath, []string{"death 5"}},
		{"opt-out purged", deletion.StatusQueued, consent.ReasonSCROptOut, []string{"scr_opt_out 5"}},
		{"done already: not counted again", deletion.StatusDone, consent.ReasonDeath, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := &fakeJobs{jobs: map[string]deletion.Job{"j": {ID: "j", Person: "k", Reason: tt.reason, Status: tt.status}}}
			st := fakeStore{calls: &jobs.calls}
			rec := &purgeRecorder{}
			p := &deletion.Purger{Jobs: jobs, Receipts: st, Eraser: countingEraser{st}, Deaths: st, Now: time.Now,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: rec}
			if err := p.Purge(context.Background(), deletion.Message{Version: 1, JobID: "j"}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rec.got, tt.want) {
				t.Errorf("got %q, want %q", rec.got, tt.want)
			}
		})
	}
}
