package settings_test

import (
	"context"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

type fakeStore struct {
	state    settings.State
	saved    []settings.Update
	failWith error
	recs     access.Records
}

func (f *fakeStore) Settings(context.Context, personkey.Key) (settings.State, error) {
	return f.state, nil
}

func (f *fakeStore) Save(_ context.Context, _ personkey.Key, u settings.Update) error {
	if f.failWith != nil {
		return f.failWith
	}
	f.saved = append(f.saved, u)
	f.state = u.Next
	return nil
}

func (f *fakeStore) AccessRecords(context.Context, personkey.Key, personkey.Key) (access.Records, error) {
	return f.recs, nil
}

func service(f *fakeStore, at time.Time) *settings.Service {
	return &settings.Service{Store: f, Records: f, Now: func() time.Time { return at }, NewID: func() string { return "c1" }}
}

func reason(err error) string {
	if e, ok := domain.AsError(err); ok {
		return e.Reason + ": " + e.Message
	}
	if err != nil {
		return "internal: " + err.Error()
	}
	return ""
}

var who = settings.Who{By: settings.BySelf, Channel: settings.Portal}

func TestChange(t *testing.T) {
	const key = personkey.Key("k")
	optedOut := settings.State{SCROptedOut: true, SCROptedOutAt: now.Add(-time.Hour), SCRPurgeJob: "scr-job", Version: 4}
	tests := []struct {
		name     string
		start    settings.State
		at       time.Time
		do       func(*settings.Service) (settings.State, error)
		failWith error
		want     settings.State
		wantErr  string
		check    func(t *testing.T, u settings.Update) // the one saved update; nil: nothing saved
	}{
		{"block", settings.State{}, now, func(s *settings.Service) (settings.State, error) {
			return s.SetEmergencyBlock(context.Background(), key, true, who)
		}, nil,
			settings.State{EmergencyBlock: true, Version: 1}, "", func(t *testing.T, u settings.Update) {
				if u.Expect != 0 || u.Change.Setting != settings.EmergencyBlock || u.Change.Value != "blocked" || u.Change.By != settings.BySelf || !u.Change.At.Equal(now) {
					t.Errorf("update = %+v", u)
				}
			}},
		{"block again is a no-op", settings.State{EmergencyBlock: true, Version: 1}, now, func(s *settings.Service) (settings.State, error) {
			return s.SetEmergencyBlock(context.Background(), key, true, who)
		}, nil, settings.State{EmergencyBlock: true, Version: 1}, "", nil},
		{"remove record access", settings.State{Version: 2}, now, func(s *settings.Service) (settings.State, error) {
			return s.SetPatientRecordAccess(context.Background(), key, false, who)
		}, nil, settings.State{PatientRecordRemoved: true, Version: 3}, "", func(t *testing.T, u settings.Update) {
			if u.Expect != 2 || u.Change.Value != "removed" {
				t.Errorf("update = %+v", u)
			}
		}},
		{"opt out of the SCR starts a purge job", settings.State{SCRGeneration: 2, Version: 1}, now, func(s *settings.Service) (settings.State, error) {
			return s.OptOutSCR(context.Background(), key, who)
		}, nil, settings.State{}, "", func(t *testing.T, u settings.Update) {
			j := u.NewJob
			if j == nil || j.Scope != settings.ScopeSCR(2) || !j.DueAt.Equal(now.Add(settings.SCRRestoreWindow)) || j.Reason != consent.ReasonSCROptOut || j.Status != deletion.StatusPending {
				t.Fatalf("job = %+v", j)
			}
			if n := u.Next; !n.SCROptedOut || !n.SCROptedOutAt.Equal(now) || n.SCRPurgeJob != j.ID || n.Version != 2 {
				t.Errorf("next = %+v", n)
			}
		}},
		{"restore within the window cancels the job", optedOut, now, func(s *settings.Service) (settings.State, error) { return s.RestoreSCR(context.Background(), key, who) }, nil,
			settings.State{Version: 5}, "", func(t *testing.T, u settings.Update) {
				if u.CancelJob != "scr-job" || u.NewJob != nil {
					t.Errorf("update = %+v", u)
				}
			}},
		{"restore after the window starts a new generation", optedOut, now.Add(settings.SCRRestoreWindow), func(s *settings.Service) (settings.State, error) {
			return s.RestoreSCR(context.Background(), key, who)
		}, nil, settings.State{SCRGeneration: 1, Version: 5}, "", func(t *testing.T, u settings.Update) {
			if u.CancelJob != "" {
				t.Errorf("update = %+v", u)
			}
		}},
		{"changed meanwhile", settings.State{}, now, func(s *settings.Service) (settings.State, error) {
			return s.SetSCRAccess(context.Background(), key, false, who)
		},
			settings.ErrConcurrentUpdate, settings.State{}, "concurrent_update: The settings were changed by another request at the same time. Read them again and retry.", nil},
		{"purge already started", optedOut, now, func(s *settings.Service) (settings.State, error) { return s.RestoreSCR(context.Background(), key, who) },
			settings.ErrPurgeStarted, settings.State{}, "scr_purge_started: The summary care record is already being deleted; it cannot be restored with its contents.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeStore{state: tt.start, failWith: tt.failWith}
			got, err := tt.do(service(f, tt.at))
			if r := reason(err); r != tt.wantErr {
				t.Fatalf("err = %q, want %q", r, tt.wantErr)
			}
			if tt.check == nil {
				if len(f.saved) != 0 {
					t.Fatalf("saved %+v, want nothing", f.saved)
				}
				if tt.wantErr == "" && got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if len(f.saved) != 1 {
				t.Fatalf("saved %d updates, want 1", len(f.saved))
			}
			tt.check(t, f.saved[0])
			if tt.want != (settings.State{}) && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if got != f.saved[0].Next {
				t.Fatalf("returned %+v, saved %+v", got, f.saved[0].Next)
			}
		})
	}
}

func mustID(t *testing.T, s string) nin.ID {
	t.Helper()
	p, err := nin.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChildOf(t *testing.T) {
	ten, sixteen := mustID(t, "29821650087"), mustID(t, "04031051296")
	tests := []struct {
		name   string
		recs   access.Records
		maxAge int
		want   string
	}{
		{"parent of a 10-year-old", access.Records{Link: &access.Link{}, ChildBirth: ten.BirthDate()}, 16, ""},
		{"child at the age limit", access.Records{Link: &access.Link{}, ChildBirth: sixteen.BirthDate()}, 16,
			"not_your_child: You can change settings only for your own children under the age limit."},
		{"lower limit", access.Records{Link: &access.Link{}, ChildBirth: ten.BirthDate()}, 10,
			"not_your_child: You can change settings only for your own children under the age limit."},
		{"foster parent", access.Records{Link: &access.Link{Foster: true}, ChildBirth: ten.BirthDate()}, 16,
			"not_your_child: You can change settings only for your own children under the age limit."},
		{"no relation", access.Records{}, 16, "not_your_child: You can change settings only for your own children under the age limit."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := service(&fakeStore{recs: tt.recs}, now).ChildOf(context.Background(), "parent", "child", tt.maxAge)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChildOfWithoutRecords(t *testing.T) {
	svc := &settings.Service{Store: &fakeStore{}, Now: func() time.Time { return now }}
	err := svc.ChildOf(context.Background(), "parent", "child", 16)
	if err == nil || domain.ErrorCode(err) != domain.EInternal {
		t.Fatalf("got %v (code %q), want an internal error", err, domain.ErrorCode(err))
	}
}

func TestSetEmergencyBlockInPortal(t *testing.T) {
	adult, child := mustID(t, "14838500073"), mustID(t, "05851250095") // 41, 14
	const byForm = "reinstate_child_by_form: A child's access is reinstated with the paper form for children under 16."
	tests := []struct {
		name    string
		start   bool
		blocked bool
		by      settings.By
		caller  nin.ID
		want    string
	}{
		{"adult blocks", false, true, settings.BySelf, adult, ""},
		{"adult lifts own block", true, false, settings.BySelf, adult, ""},
		{"parent blocks a child", false, true, settings.ByParent, adult, ""},
		{"parent cannot lift a child's block", true, false, settings.ByParent, adult, byForm},
		{"child blocks themself", false, true, settings.BySelf, child, ""},
		{"child cannot lift their block", true, false, settings.BySelf, child, byForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeStore{state: settings.State{EmergencyBlock: tt.start, Version: 1}}
			st, err := service(f, now).SetEmergencyBlockInPortal(context.Background(), "k", tt.blocked, tt.by, tt.caller)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.want != "" {
				if len(f.saved) != 0 {
					t.Fatalf("a refused change was saved")
				}
				return
			}
			if st.EmergencyBlock != tt.blocked || len(f.saved) != 1 || f.saved[0].Change.By != tt.by || f.saved[0].Change.Channel != settings.Portal {
				t.Fatalf("state %+v, saved %+v", st, f.saved)
			}
		})
	}
}

func TestScopeSCR(t *testing.T) {
	for _, tt := range []struct {
		scope       consent.Scope
		upTo        int
		isSCR, isOK bool
	}{
		{settings.ScopeSCR(3), 3, true, true},
		{"scr:x", 0, true, false},
		{consent.ScopeWithdrawal, 0, false, false},
	} {
		upTo, isSCR, ok := settings.SCRGenerations(tt.scope)
		if upTo != tt.upTo || isSCR != tt.isSCR || ok != tt.isOK {
			t.Errorf("SCRGenerations(%q) = %d, %v, %v; want %d, %v, %v", tt.scope, upTo, isSCR, ok, tt.upTo, tt.isSCR, tt.isOK)
		}
	}
}
