package notices_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"privacycore/shared/domain/idchange"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// history is an in-memory idchange.History whose failAt-th ChangedTo call
// (1-based; 0: none) fails like a throttled read.
type history struct {
	changes map[personkey.Key]idchange.Change
	failAt  int
	calls   int
}

func (h *history) ChangedTo(_ context.Context, k personkey.Key) (idchange.Change, bool, error) {
	if h.calls++; h.calls == h.failAt {
		return idchange.Change{}, false, errors.New("throttled")
	}
	c, ok := h.changes[k]
	return c, ok, nil
}

func (h *history) Record(_ context.Context, from, _ personkey.Key, c idchange.Change) error {
	h.changes[from] = c
	return nil
}

func (h *history) MarkMoved(context.Context, personkey.Key) error        { return nil }
func (h *history) MovingIn(context.Context, personkey.Key) (bool, error) { return false, nil }

type ledger struct{}

func (ledger) Processed(context.Context, string) (bool, error) { return false, nil }
func (ledger) Record(context.Context, string, notices.Type, notices.Outcome, time.Time) error {
	return nil
}

type mover struct{ calls int }

func (m *mover) MovePerson(context.Context, personkey.Key, personkey.Key, time.Time) (notices.MoveResult, error) {
	m.calls++
	return notices.MoveResult{Done: true}, nil
}

// A read of the id history that fails is retried, never refused: only a
// cycle, a contradiction or a chain too long sends a change to the
// dead-letter queue. The failing read here is the one that follows the
// new id's chain after the move (Kari's id was changed to Ola's).
func TestIDChangeReadErrorsAreRetriedNotRefused(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	kk, ok := keys.Key(mustID(t, kari)), keys.Key(mustID(t, ola))
	body := []byte(`{"version":1,"noticeId":"c1","type":"person_id_changed","eventTime":"2026-11-20T08:15:00Z","previous":"` + child + `","current":"` + kari + `"}`)
	// The reads: Decide (kari's chain: 1 kari, 2 ola; 3 child), then
	// followChain (4 kari, 5 ola).
	for failAt := 1; failAt <= 5; failAt++ {
		h := &history{changes: map[personkey.Key]idchange.Change{kk: {To: ok, Moved: true}}, failAt: failAt}
		p := &notices.Processor{Keys: keys, Ledger: ledger{}, IDs: h, Mover: &mover{}, Now: time.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		_, err := p.Apply(context.Background(), body, time.Now())
		if err == nil || notices.Permanent(err) {
			t.Errorf("read %d fails: err = %v, want a retry", failAt, err)
		}
	}
}
