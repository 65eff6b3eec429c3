package consent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
)

type register struct {
	reg   consent.Registered
	err   error
	delay time.Duration
	calls int
}

func (r *register) Lookup(ctx context.Context, _ nin.ID) (consent.Registered, error) {
	r.calls++
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return consent.Registered{}, ctx.Err()
		}
	}
	return r.reg, r.err
}

type relations struct{ got []consent.Child }

func (r *relations) ImportChildren(_ context.Context, _ nin.ID, cs []consent.Child) error {
	r.got = append(r.got, cs...)
	return nil
}

func TestGivingConsentAsksTheRegister(t *testing.T) {
	id, _ := nin.Parse("14838500073")
	child, _ := nin.Parse("05851250095")
	cases := []struct {
		name       string
		start      consent.Status
		reg        *register
		wantReason string
		wantCalls  int
		wantKids   int
	}{
		{"alive", consent.StatusNone, &register{reg: consent.Registered{Standing: consent.StandingAlive}}, "", 1, 0},
		{"alive with a child", consent.StatusNone, &register{reg: consent.Registered{Standing: consent.StandingAlive, Children: []consent.Child{{ID: child}}}}, "", 1, 1},
		{"deceased", consent.StatusNone, &register{reg: consent.Registered{Standing: consent.StandingDeceased}}, "deceased", 1, 0},
		{"discontinued", consent.StatusWithdrawn, &register{reg: consent.Registered{Standing: consent.StandingDiscontinued}}, "discontinued", 1, 0},
		{"unknown", consent.StatusNone, &register{reg: consent.Registered{Standing: consent.StandingNotFound}}, "not_in_population_register", 1, 0},
		{"register down", consent.StatusNone, &register{err: errors.New("503")}, "register_unavailable", 1, 0},
		{"register slow", consent.StatusNone, &register{delay: time.Second}, "register_unavailable", 1, 0},
		{"changing an active consent asks nobody", consent.StatusActive, &register{err: errors.New("down")}, "", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMem()
			m.state = consent.State{Status: tc.start, Level: consent.Basic, Version: 1}
			if tc.start == consent.StatusNone {
				m.state.Version = 0
			}
			svc := newService(m)
			rel := &relations{}
			svc.Register, svc.Relations, svc.RegisterTimeout = tc.reg, rel, 50*time.Millisecond
			_, err := svc.Set(context.Background(), consent.Person{Key: "k", ID: id}, consent.Change{Level: consent.Full, Channel: consent.ChannelPortal})
			if got := reason(err); got != tc.wantReason {
				t.Errorf("reason %q, want %q", got, tc.wantReason)
			}
			if tc.reg.calls != tc.wantCalls || len(rel.got) != tc.wantKids {
				t.Errorf("look-ups %d, children imported %d; want %d, %d", tc.reg.calls, len(rel.got), tc.wantCalls, tc.wantKids)
			}
			if tc.wantReason != "" && m.state.Status == consent.StatusActive && tc.start != consent.StatusActive {
				t.Errorf("refused consent was stored")
			}
		})
	}
}
