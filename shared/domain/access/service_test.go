package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

var svcNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// fakeStore is both the records reader and the usage log, in memory.
type fakeStore struct {
	recs      map[[2]personkey.Key]access.Records
	reads     int
	log       map[personkey.Key][]access.Usage
	retention time.Duration
	logErr    error
}

func (f *fakeStore) AccessRecords(_ context.Context, actor, subject personkey.Key) (access.Records, error) {
	f.reads++
	return f.recs[[2]personkey.Key{actor, subject}], nil
}

func (f *fakeStore) AppendUsage(_ context.Context, key personkey.Key, u access.Usage, retention time.Duration) error {
	if f.log == nil {
		f.log = map[personkey.Key][]access.Usage{}
	}
	f.log[key] = append(f.log[key], u)
	f.retention = retention
	return nil
}

func (f *fakeStore) UsageLog(_ context.Context, key personkey.Key, limit int, cursor string) ([]access.Usage, string, error) {
	if f.logErr != nil {
		return nil, "", f.logErr
	}
	l := f.log[key]
	return l[:min(limit, len(l))], "", nil
}

func mustID(t *testing.T, s string) nin.ID {
	t.Helper()
	id, err := nin.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func activeAt(level consent.Level) access.Person {
	return access.Person{Consent: consent.State{Status: consent.StatusActive, Level: level, Version: 1}}
}

func TestDeciderDecide(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	kari, ola, child := mustID(t, "14838500073"), mustID(t, "01879000099"), mustID(t, "29821650087") // 41, 36, 10
	kk, ok, ck := keys.Key(kari), keys.Key(ola), keys.Key(child)
	grant := &access.Grant{Areas: []access.Area{access.AreaHealthData}, ValidFrom: svcNow.Add(-time.Hour), ValidTo: svcNow.Add(time.Hour)}
	recs := map[[2]personkey.Key]access.Records{
		{kk, kk}: {Subject: activeAt(consent.Full)},
		{ok, kk}: {Subject: activeAt(consent.Full), Grant: grant},
		{kk, ck}: {Subject: activeAt(consent.Full), Link: &access.Link{}, ChildBirth: child.BirthDate()},
	}
	tests := []struct {
		name      string
		q         access.Question
		want      access.Decision
		wantErr   string // "reason: message"
		wantLog   personkey.Key
		wantReads int
	}{
		{"self allowed, use recorded", access.Question{Caller: kari, Service: "medicines", RecordUse: true},
			access.Decision{Allowed: true, Rule: access.Allowed, Role: access.RoleSelf}, "", kk, 1},
		{"self by own id is self", access.Question{Caller: kari, Service: "medicines", SubjectID: "14838500073"},
			access.Decision{Allowed: true, Rule: access.Allowed, Role: access.RoleSelf}, "", "", 1},
		{"attorney in the granted area", access.Question{Caller: ola, Service: "medicines", SubjectRef: string(kk), RecordUse: true},
			access.Decision{Allowed: true, Rule: access.Allowed, Role: access.RoleAttorney}, "", kk, 1},
		{"attorney outside the granted area", access.Question{Caller: ola, Service: "appointments", SubjectRef: string(kk), RecordUse: true},
			access.Decision{Rule: access.RulePOAAreaNotGranted, Role: access.RoleAttorney}, "", "", 1},
		{"parent of a child under 12", access.Question{Caller: kari, Service: "vaccinations", SubjectID: "29821650087"},
			access.Decision{Allowed: true, Rule: access.Allowed, Role: access.RoleParent}, "", "", 1},
		{"no relation", access.Question{Caller: ola, Service: "medicines", SubjectID: "29821650087"},
			access.Decision{Rule: access.RuleNoRelation}, "", "", 1},
		{"unknown service", access.Question{Caller: kari, Service: "nope"}, access.Decision{}, "unknown_service: The service is not in the catalogue.", "", 0},
		{"both subject and ref", access.Question{Caller: kari, Service: "medicines", SubjectID: "01879000099", SubjectRef: string(ok)}, access.Decision{}, "ambiguous_subject: Give subject or subjectRef, not both.", "", 0},
		{"bad subject id", access.Question{Caller: kari, Service: "medicines", SubjectID: "01879000098"}, access.Decision{}, "invalid_subject: subject is not a valid person id.", "", 0},
		{"bad subject ref", access.Question{Caller: kari, Service: "medicines", SubjectRef: "ABC"}, access.Decision{}, "invalid_subject: subjectRef is not a valid reference.", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{recs: recs}
			var reported []access.Decision
			d := &access.Decider{Records: store, Usage: store, Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, Now: func() time.Time { return svcNow }, NewID: func() string { return "u1" },
				Decided: func(_ context.Context, d access.Decision) { reported = append(reported, d) }}
			got, svc, err := d.Decide(context.Background(), tt.q)
			if tt.wantErr != "" {
				if e, ok := domain.AsError(err); !ok || e.Reason+": "+e.Message != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				if store.reads != 0 || len(reported) != 0 {
					t.Fatalf("a refused question read %d times and reported %d decisions", store.reads, len(reported))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Because = ""
			if got.Allowed != tt.want.Allowed || got.Rule != tt.want.Rule || (tt.want.Role != "" && got.Role != tt.want.Role) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if svc.ID != tt.q.Service {
				t.Errorf("service = %q, want %q", svc.ID, tt.q.Service)
			}
			if store.reads != tt.wantReads {
				t.Errorf("reads = %d, want %d (one round trip per decision)", store.reads, tt.wantReads)
			}
			if len(reported) != 1 || reported[0].Rule != got.Rule {
				t.Errorf("reported %v, want the decision once", reported)
			}
			total := 0
			for _, l := range store.log {
				total += len(l)
			}
			switch {
			case tt.wantLog == "" && total != 0:
				t.Errorf("usage logged %v, want nothing", store.log)
			case tt.wantLog != "":
				l := store.log[tt.wantLog]
				if total != 1 || len(l) != 1 || l[0].Kind != "use" || l[0].Service != tt.q.Service || l[0].By != got.Role || !l[0].At.Equal(svcNow) {
					t.Errorf("usage log = %v, want one use of %s in the subject's log", store.log, tt.q.Service)
				}
				if store.retention != access.DefaultRetention {
					t.Errorf("retention = %v, want %v", store.retention, access.DefaultRetention)
				}
			}
		})
	}
}

func TestDeciderUsageLog(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	kari := mustID(t, "14838500073")
	store := &fakeStore{}
	d := &access.Decider{Records: store, Usage: store, Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, Now: func() time.Time { return svcNow }, NewID: func() string { return "l1" }, Retention: 24 * time.Hour}
	if err := d.Login(context.Background(), kari); err != nil {
		t.Fatal(err)
	}
	got, _, err := d.Log(context.Background(), kari, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	want := access.Usage{ID: "l1", At: svcNow, Kind: "login", By: access.RoleSelf}
	if len(got) != 1 || got[0] != want || store.retention != 24*time.Hour {
		t.Fatalf("got %v (retention %v), want [%v] (24h)", got, store.retention, want)
	}

	store.logErr = errors.Join(errors.New("query usage log"), domain.ErrInvalidCursor)
	if _, _, err := d.Log(context.Background(), kari, 10, "bad"); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("bad cursor: got %v, want invalid_cursor", err)
	} else if e, _ := domain.AsError(err); e.Reason != "invalid_cursor" || e.Message != "The cursor is not valid." {
		t.Fatalf("bad cursor: got %+v", e)
	}
	store.logErr = errors.New("boom")
	if _, _, err := d.Log(context.Background(), kari, 10, ""); domain.ErrorCode(err) != domain.EInternal {
		t.Fatalf("store failure: got %v, want an internal error", err)
	}
}

func TestDeciderChildUsageLog(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	kari := mustID(t, "14838500073")
	// svcNow is 2026-11-30: twelve turned 12 today, eleven turns 12 tomorrow.
	eleven, twelve := nin.ForTest(nin.Date{Year: 2014, Month: 12, Day: 1}, true), nin.ForTest(nin.Date{Year: 2014, Month: 11, Day: 30}, true)
	me := keys.Key(kari)
	parentOf := func(child nin.ID) access.Records {
		return access.Records{Link: &access.Link{}, ChildBirth: child.BirthDate()}
	}
	const notChild = "not_your_child: You can read the usage log only of your own children under the age limit."
	tests := []struct {
		name  string
		child nin.ID
		recs  access.Records
		want  string // "reason: message", "" for the child's log
	}{
		{"parent of a child under 12", eleven, parentOf(eleven), ""},
		{"parent of a child turned 12 today", twelve, parentOf(twelve), notChild},
		{"stranger", eleven, access.Records{}, notChild},
		{"foster parent", eleven, access.Records{Link: &access.Link{Foster: true}, ChildBirth: eleven.BirthDate()}, notChild},
		{"attorney", eleven, access.Records{Grant: &access.Grant{}, ChildBirth: eleven.BirthDate()}, notChild},
		{"dead parent", eleven, access.Records{Link: &access.Link{}, ChildBirth: eleven.BirthDate(), ActorDeceased: true},
			"deceased: The population register reports you as deceased."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			child := keys.Key(tt.child)
			entry := access.Usage{ID: "u1", At: svcNow, Kind: "use", Service: "summary_care_record", By: access.RoleParent}
			store := &fakeStore{
				recs: map[[2]personkey.Key]access.Records{{me, child}: tt.recs},
				log:  map[personkey.Key][]access.Usage{child: {entry}, me: {{ID: "own", Kind: "login"}}},
			}
			d := &access.Decider{Records: store, Usage: store, Keys: keys, Now: func() time.Time { return svcNow }}
			got, _, err := d.LogOf(context.Background(), kari, string(child), 10, "")
			if reason := ""; err != nil {
				e, _ := domain.AsError(err)
				reason = e.Reason + ": " + e.Message
				if reason != tt.want {
					t.Fatalf("got %q, want %q", reason, tt.want)
				}
				return
			}
			if tt.want != "" {
				t.Fatalf("got %v, want %q", got, tt.want)
			}
			if len(got) != 1 || got[0] != entry {
				t.Fatalf("got %v, want the child's log [%v]", got, entry)
			}
		})
	}
	d := &access.Decider{Records: &fakeStore{}, Usage: &fakeStore{}, Keys: keys, Now: func() time.Time { return svcNow }}
	if _, _, err := d.LogOf(context.Background(), kari, "ABC", 10, ""); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("bad ref: got %v, want invalid_child", err)
	}
}
