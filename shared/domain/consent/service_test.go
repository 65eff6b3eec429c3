package consent_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// memStore is an in-memory consent.Store, consent.Eraser and consent.Grants.
type memStore struct {
	state    consent.State
	events   []consent.Event
	receipts map[string]consent.Receipt
	given    []consent.Grant
	applyErr error
	eraseErr error // what Erase returns, if set
	erased   int
	slice    consent.Slice // the last Erase's
}

func newMem() *memStore {
	return &memStore{state: consent.State{Status: consent.StatusNone}, receipts: map[string]consent.Receipt{}}
}

func (m *memStore) Consent(context.Context, personkey.Key) (consent.State, error) {
	return m.state, nil
}

func (m *memStore) Apply(_ context.Context, _ personkey.Key, next consent.State, expect int64, ev consent.Event, r *consent.Receipt) error {
	if m.applyErr != nil {
		return m.applyErr
	}
	if m.state.Version != expect {
		return consent.ErrVersionConflict
	}
	m.state = next
	m.events = append(m.events, ev)
	if r != nil {
		m.receipts[r.ID] = *r
	}
	return nil
}

func (m *memStore) History(context.Context, personkey.Key, int, string) ([]consent.Event, string, error) {
	return m.events, "", nil
}

func (m *memStore) Receipt(_ context.Context, _ personkey.Key, id string) (consent.Receipt, error) {
	r, ok := m.receipts[id]
	if !ok {
		return consent.Receipt{}, consent.ErrReceiptNotFound
	}
	return r, nil
}

func (m *memStore) Erase(_ context.Context, _ personkey.Key, id string, _ consent.Scope, slice consent.Slice) (consent.Receipt, error) {
	m.erased++
	m.slice = slice
	if m.eraseErr != nil {
		return consent.Receipt{}, m.eraseErr
	}
	r := m.receipts[id]
	r.Status, r.Deleted = consent.ReceiptDone, map[string]int{"usage": 3}
	m.receipts[id] = r
	return r, nil
}

func (m *memStore) GivenBy(context.Context, personkey.Key) ([]consent.Grant, error) {
	return m.given, nil
}

func newService(m *memStore) *consent.Service {
	n := 0
	return &consent.Service{
		Store: m, Eraser: m, Grants: m,
		Now:   func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) },
	}
}

var kari = consent.Person{Key: "k"}

func reason(err error) string {
	if e, ok := domain.AsError(err); ok {
		return e.Reason
	}
	if err != nil {
		return "internal:" + err.Error()
	}
	return ""
}

func ptr(v int64) *int64 { return &v }

func TestSet(t *testing.T) {
	active := func(l consent.Level, travel bool, v int64) consent.State {
		return consent.State{Status: consent.StatusActive, Level: l, PatientTravel: travel, Version: v, Channel: consent.ChannelPortal}
	}
	tests := []struct {
		name       string
		start      consent.State
		change     consent.Change
		wantReason string
		wantLevel  consent.Level
		wantVer    int64
		wantAction consent.Action // "" = no event
	}{
		{"give basic", consent.State{Status: consent.StatusNone}, consent.Change{Level: consent.Basic, Channel: consent.ChannelPortal}, "", consent.Basic, 1, consent.ActionGive},
		{"give full with travel", consent.State{Status: consent.StatusNone}, consent.Change{Level: consent.Full, PatientTravel: true, Channel: consent.ChannelPaper}, "", consent.Full, 1, consent.ActionGive},
		{"raise", active(consent.Basic, false, 1), consent.Change{Level: consent.BasicPlus, Channel: consent.ChannelPortal}, "", consent.BasicPlus, 2, consent.ActionChange},
		{"lower", active(consent.Full, true, 4), consent.Change{Level: consent.Basic, Channel: consent.ChannelPortal}, "", consent.Basic, 5, consent.ActionChange},
		{"same again is a no-op", active(consent.Full, true, 4), consent.Change{Level: consent.Full, PatientTravel: true, Channel: consent.ChannelPortal}, "", consent.Full, 4, ""},
		{"travel off at same level", active(consent.Full, true, 4), consent.Change{Level: consent.Full, Channel: consent.ChannelPortal}, "", consent.Full, 5, consent.ActionChange},
		{"give again after withdrawal", consent.State{Status: consent.StatusWithdrawn, Version: 3}, consent.Change{Level: consent.Basic, Channel: consent.ChannelPortal}, "", consent.Basic, 4, consent.ActionGive},
		{"unknown level", consent.State{Status: consent.StatusNone}, consent.Change{Level: "all", Channel: consent.ChannelPortal}, "unknown_level", "", 0, ""},
		{"travel needs full", consent.State{Status: consent.StatusNone}, consent.Change{Level: consent.BasicPlus, PatientTravel: true, Channel: consent.ChannelPortal}, "patient_travel_requires_full", "", 0, ""},
		{"unknown channel", consent.State{Status: consent.StatusNone}, consent.Change{Level: consent.Basic, Channel: "fax"}, "unknown_channel", "", 0, ""},
		{"matching If-Match", active(consent.Basic, false, 2), consent.Change{Level: consent.Full, Channel: consent.ChannelPortal, IfMatch: ptr(2)}, "", consent.Full, 3, consent.ActionChange},
		{"stale If-Match", active(consent.Basic, false, 2), consent.Change{Level: consent.Full, Channel: consent.ChannelPortal, IfMatch: ptr(1)}, "version_mismatch", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			m.state = tt.start
			got, err := newService(m).Set(context.Background(), kari, tt.change)
			if r := reason(err); r != tt.wantReason {
				t.Fatalf("reason: got %q, want %q", r, tt.wantReason)
			}
			if err != nil {
				if len(m.events) != 0 || m.state != tt.start {
					t.Errorf("a refused change wrote something")
				}
				return
			}
			if got.Level != tt.wantLevel || got.Version != tt.wantVer || got.Status != consent.StatusActive {
				t.Errorf("state: got %+v, want level %s version %d", got, tt.wantLevel, tt.wantVer)
			}
			var gotAction consent.Action
			if len(m.events) > 0 {
				gotAction = m.events[len(m.events)-1].Action
			}
			if gotAction != tt.wantAction {
				t.Errorf("history action: got %q, want %q", gotAction, tt.wantAction)
			}
		})
	}
}

func TestSetLosingARace(t *testing.T) {
	tests := []struct {
		name    string
		ifMatch *int64
		want    string
	}{
		{"without If-Match", nil, "concurrent_update"},
		{"with If-Match", ptr(1), "version_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			m.state = consent.State{Status: consent.StatusActive, Level: consent.Basic, Version: 1}
			m.applyErr = consent.ErrVersionConflict
			_, err := newService(m).Set(context.Background(), kari, consent.Change{Level: consent.Full, Channel: consent.ChannelPortal, IfMatch: tt.ifMatch})
			if got := reason(err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	m := newMem()
	m.applyErr = errors.New("throttled")
	_, err := newService(m).Set(context.Background(), kari, consent.Change{Level: consent.Full, Channel: consent.ChannelPortal})
	if domain.ErrorCode(err) != domain.EInternal {
		t.Errorf("storage failure: got code %q, want internal", domain.ErrorCode(err))
	}
}

func TestWithdraw(t *testing.T) {
	grant := consent.Grant{ID: "g1", Areas: []string{"health_records"}}
	tests := []struct {
		name       string
		status     consent.Status
		given      []consent.Grant
		confirm    bool
		wantReason string
		wantErased int
	}{
		{"active, nothing given", consent.StatusActive, nil, false, "", 1},
		{"never consented", consent.StatusNone, nil, false, "no_consent", 0},
		{"given POA, not confirmed", consent.StatusActive, []consent.Grant{grant}, false, "powers_of_attorney_given", 0},
		{"given POA, confirmed", consent.StatusActive, []consent.Grant{grant}, true, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			m.state = consent.State{Status: tt.status, Level: consent.Full, Version: 2}
			if tt.status == consent.StatusNone {
				m.state = consent.State{Status: consent.StatusNone}
			}
			m.given = tt.given
			r, err := newService(m).Withdraw(context.Background(), kari, consent.Withdrawal{Channel: consent.ChannelPortal, ConfirmCascade: tt.confirm})
			if got := reason(err); got != tt.wantReason {
				t.Fatalf("reason: got %q, want %q", got, tt.wantReason)
			}
			if m.erased != tt.wantErased {
				t.Errorf("erase calls: got %d, want %d", m.erased, tt.wantErased)
			}
			if err != nil {
				if m.state.Status != tt.status {
					t.Errorf("a refused withdrawal changed the state to %s", m.state.Status)
				}
				if e, _ := domain.AsError(err); tt.wantReason == "powers_of_attorney_given" && fmt.Sprint(e.Extensions["powersOfAttorney"]) != fmt.Sprint(tt.given) {
					t.Errorf("409 lists %v, want %v", e.Extensions["powersOfAttorney"], tt.given)
				}
				return
			}
			if m.state.Status != consent.StatusWithdrawn || m.state.Level != "" || m.state.WithdrawalID != r.ID || r.Status != consent.ReceiptDone {
				t.Errorf("after withdrawal: state %+v, receipt %+v", m.state, r)
			}
			// Again: same receipt, no second erase, no second event.
			events := len(m.events)
			again, err := newService(m).Withdraw(context.Background(), kari, consent.Withdrawal{Channel: consent.ChannelPortal})
			if err != nil || again.ID != r.ID || m.erased != tt.wantErased || len(m.events) != events {
				t.Errorf("second withdrawal: receipt %s (want %s), erased %d, events %d→%d, err %v", again.ID, r.ID, m.erased, events, len(m.events), err)
			}
		})
	}
}

func TestWithdrawFinishesAnInterruptedErase(t *testing.T) {
	m := newMem()
	m.state = consent.State{Status: consent.StatusWithdrawn, Version: 3, WithdrawalID: "r1"}
	m.receipts["r1"] = consent.Receipt{ID: "r1", Status: consent.ReceiptDeleting}
	r, err := newService(m).Withdraw(context.Background(), kari, consent.Withdrawal{Channel: consent.ChannelPortal})
	if err != nil || r.Status != consent.ReceiptDone || m.erased != 1 {
		t.Errorf("got %+v, erased %d, err %v; want the erase finished once", r, m.erased, err)
	}
}

// background is a consent.Background that owns every erase.
type background struct{}

func (background) Prepare(context.Context, personkey.Key, string, consent.Reason, consent.Scope) (bool, error) {
	return true, nil
}
func (background) Hand(context.Context, string, string) error { return nil }
func (background) Close(context.Context, string) error        { return nil }

// TestWithdrawBudgetCountsFromTheRequestStart: the erase in the request
// may run until Budget after the request started, not after the reads and
// the withdrawal before it (each takes 300 ms of this clock).
func TestWithdrawBudgetCountsFromTheRequestStart(t *testing.T) {
	for _, state := range []consent.State{
		{Status: consent.StatusActive, Level: consent.Full, Version: 2},
		{Status: consent.StatusWithdrawn, Version: 3, WithdrawalID: "r1"}, // a repeated DELETE
	} {
		t.Run(string(state.Status), func(t *testing.T) {
			m := newMem()
			m.state = state
			m.receipts["r1"] = consent.Receipt{ID: "r1", Status: consent.ReceiptDeleting}
			svc := newService(m)
			start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			calls := 0
			svc.Now = func() time.Time { calls++; return start.Add(time.Duration(calls-1) * 300 * time.Millisecond) }
			svc.Background, svc.Budget = background{}, time.Second
			if _, err := svc.Withdraw(context.Background(), kari, consent.Withdrawal{Channel: consent.ChannelPortal}); err != nil {
				t.Fatal(err)
			}
			if want := start.Add(time.Second); !m.slice.Until.Equal(want) {
				t.Errorf("erase until %v, want %v (the request's start + budget)", m.slice.Until.Format(time.StampMilli), want.Format(time.StampMilli))
			}
		})
	}
}

func TestWithdrawReceiptGone(t *testing.T) {
	tests := []struct {
		name       string
		stored     bool  // the receipt is there when read
		eraseErr   error // what the eraser returns
		background bool  // the erase runs in a time slice, with a job behind it
		want       string
	}{
		{"gone before the read", false, nil, false, "receipt_not_found: No such deletion receipt."},
		{"gone during the erase", true, consent.ErrReceiptNotFound, false, "receipt_not_found: No such deletion receipt."},
		{"gone during a sliced erase", true, consent.ErrReceiptNotFound, true, "receipt_not_found: No such deletion receipt."},
		{"eraser fails", true, errors.New("boom"), false, "internal:erase after withdrawal: boom"},
		{"sliced eraser fails", true, errors.New("boom"), true, "internal:erase after withdrawal: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			m.state = consent.State{Status: consent.StatusWithdrawn, Version: 3, WithdrawalID: "r1"}
			if tt.stored {
				m.receipts["r1"] = consent.Receipt{ID: "r1", Status: consent.ReceiptDeleting}
			}
			m.eraseErr = tt.eraseErr
			svc := newService(m)
			if tt.background {
				svc.Background = background{}
			}
			_, err := svc.Withdraw(context.Background(), kari, consent.Withdrawal{Channel: consent.ChannelPortal})
			got := reason(err)
			if e, ok := domain.AsError(err); ok {
				got += ": " + e.Message
				if e.Code != domain.ENotFound {
					t.Errorf("code: got %s, want not found", e.Code)
				}
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLevelIncludes(t *testing.T) {
	tests := []struct {
		have, need consent.Level
		want       bool
	}{
		{consent.Basic, consent.Basic, true}, {consent.Basic, consent.BasicPlus, false}, {consent.BasicPlus, consent.Basic, true},
		{consent.Full, consent.BasicPlus, true}, {consent.BasicPlus, consent.Full, false}, {"", consent.Basic, false}, {"x", "x", false},
	}
	for _, tt := range tests {
		if got := tt.have.Includes(tt.need); got != tt.want {
			t.Errorf("%q.Includes(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}
