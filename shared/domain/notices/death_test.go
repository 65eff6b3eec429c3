package notices_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// deathStore is a fake of notices.DeathNotices: it answers reads from a
// list (the last one repeats) and fails the first conflicts writes with
// ErrDeathChanged.
type deathStore struct {
	reads     []notices.DeathRead
	conflicts int
	nread     int
	writes    []notices.DeathWrite
}

func (s *deathStore) ReadDeath(_ context.Context, _ personkey.Key, _ string) (notices.DeathRead, error) {
	r := s.reads[min(s.nread, len(s.reads)-1)]
	s.nread++
	return r, nil
}

func (s *deathStore) WriteDeath(_ context.Context, w notices.DeathWrite) error {
	if s.conflicts > 0 {
		s.conflicts--
		return notices.ErrDeathChanged
	}
	s.writes = append(s.writes, w)
	return nil
}

func TestDeathNotice(t *testing.T) {
	received := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	active := consent.State{Status: consent.StatusActive, Level: consent.Full, Version: 3}
	withdrawn := consent.State{Status: consent.StatusWithdrawn, Version: 4, Channel: consent.ChannelRegistry}
	// what a write did, in short
	type want struct {
		outcome  notices.Outcome
		write    bool // anything written (the ledger entry at least)
		withdraw bool
		grants   bool
		death    bool
	}
	tests := []struct {
		name string
		read notices.DeathRead
		want want
	}{
		{"first delivery, consent active", notices.DeathRead{Consent: active},
			want{notices.OutcomeDeathRecorded, true, true, true, true}},
		{"never consented", notices.DeathRead{Consent: consent.State{Status: consent.StatusNone}},
			want{notices.OutcomeDeathRecorded, true, false, true, true}},
		{"consent already withdrawn", notices.DeathRead{Consent: withdrawn},
			want{notices.OutcomeDeathRecorded, true, false, true, true}},
		{"duplicate: no writes", notices.DeathRead{Processed: true, Consent: active},
			want{notices.OutcomeDuplicate, false, false, false, false}},
		{"annulment arrived first", notices.DeathRead{Annulled: true, Consent: active},
			want{notices.OutcomeDeathAnnulledEarlier, true, false, false, false}},
		{"recorded before (job exists)", notices.DeathRead{JobExists: true, Consent: active, Marker: notices.DeathMarker{NoticeID: "n1"}},
			want{notices.OutcomeDeathAlreadyRecorded, true, false, false, false}},
		{"recorded before, this death stands: grants a crash left go", notices.DeathRead{JobExists: true, Consent: withdrawn, Marker: notices.DeathMarker{NoticeID: "n1", Live: true}},
			want{notices.OutcomeDeathRecorded, true, false, true, false}},
		{"this death's marker, annulled since", notices.DeathRead{Consent: active, Marker: notices.DeathMarker{NoticeID: "n1"}},
			want{notices.OutcomeDeathAlreadyRecorded, true, false, false, false}},
		{"another death registered", notices.DeathRead{Consent: withdrawn, Marker: notices.DeathMarker{NoticeID: "n0", Live: true}},
			want{notices.OutcomeDeathAlreadyDifferent, true, false, true, false}},
		{"another death annulled: this one replaces it", notices.DeathRead{Consent: active, Marker: notices.DeathMarker{NoticeID: "n0"}},
			want{notices.OutcomeDeathRecorded, true, true, true, true}},
	}
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	body := []byte(`{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &deathStore{reads: []notices.DeathRead{tt.read}}
			p := &notices.Processor{Keys: keys, DeathNotices: s, Now: func() time.Time { return received.Add(time.Minute) },
				NewID: func() string { return "ev1" }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			o, err := p.Apply(context.Background(), body, received)
			if err != nil {
				t.Fatal(err)
			}
			if o != tt.want.outcome {
				t.Errorf("outcome: got %s, want %s", o, tt.want.outcome)
			}
			if got := len(s.writes); got != map[bool]int{false: 0, true: 1}[tt.want.write] {
				t.Fatalf("writes: got %d, want write=%v", got, tt.want.write)
			}
			if !tt.want.write {
				return
			}
			w := s.writes[0]
			got := want{w.Outcome, true, w.Withdraw != nil, w.DeleteGrants, w.Death != nil}
			if got != tt.want {
				t.Errorf("write: got %+v, want %+v", got, tt.want)
			}
			if w.NoticeID != "n1" || w.Key != keys.Key(mustID(t, ola)) || w.Type != notices.Death || w.Read != tt.read || !w.At.Equal(received.Add(time.Minute)) {
				t.Errorf("write: %+v", w)
			}
			if w.Withdraw != nil {
				next, ev := w.Withdraw.Next, w.Withdraw.Event
				if next.Status != consent.StatusWithdrawn || next.Channel != consent.ChannelRegistry || next.Version != tt.read.Consent.Version+1 ||
					!next.UpdatedAt.Equal(received) || next.WithdrawalID != "" {
					t.Errorf("consent: %+v", next)
				}
				if ev.ID != "ev1" || ev.Action != consent.ActionWithdraw || ev.Channel != consent.ChannelRegistry || ev.Version != next.Version || !ev.At.Equal(received) {
					t.Errorf("history event: %+v", ev)
				}
			}
			if w.Death != nil && (!w.Death.Received.Equal(received) || !w.Death.Due.Equal(received.AddDate(0, 0, 30))) {
				t.Errorf("death: %+v, want received %v, due 30 days later", w.Death, received)
			}
		})
	}
}

// TestDeathNoticeDecidesAgainAfterAConflict: when what the notice read
// changes before it writes, it reads again and decides on the new state.
func TestDeathNoticeDecidesAgainAfterAConflict(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	body := []byte(`{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"}`)
	p := func(s *deathStore) *notices.Processor {
		return &notices.Processor{Keys: keys, DeathNotices: s, Now: time.Now, NewID: func() string { return "ev" }}
	}
	t.Run("an annulment arrived meanwhile", func(t *testing.T) {
		s := &deathStore{conflicts: 1, reads: []notices.DeathRead{{}, {Annulled: true}}}
		o, err := p(s).Apply(context.Background(), body, time.Now())
		if err != nil || o != notices.OutcomeDeathAnnulledEarlier || s.nread != 2 || len(s.writes) != 1 || s.writes[0].Death != nil {
			t.Errorf("got %s %v after %d reads, writes %+v; want the annulment honoured", o, err, s.nread, s.writes)
		}
	})
	t.Run("another worker applied it meanwhile", func(t *testing.T) {
		s := &deathStore{conflicts: 1, reads: []notices.DeathRead{{}, {Processed: true}}}
		o, err := p(s).Apply(context.Background(), body, time.Now())
		if err != nil || o != notices.OutcomeDuplicate || len(s.writes) != 0 {
			t.Errorf("got %s %v, writes %+v; want duplicate, no writes", o, err, s.writes)
		}
	})
	t.Run("it keeps changing", func(t *testing.T) {
		s := &deathStore{conflicts: 100, reads: []notices.DeathRead{{}}}
		if _, err := p(s).Apply(context.Background(), body, time.Now()); !errors.Is(err, notices.ErrDeathChanged) || s.nread != 5 {
			t.Errorf("got %v after %d reads, want ErrDeathChanged after 5 (the message is retried)", err, s.nread)
		}
	})
}

func mustID(t *testing.T, s string) nin.ID {
	t.Helper()
	id, err := nin.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
