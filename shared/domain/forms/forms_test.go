package forms_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
)

type fakeStore struct {
	records map[string]forms.Record
	parents map[[2]personkey.Key]bool
	dead    map[personkey.Key]bool
}

func (f *fakeStore) Form(_ context.Context, id string) (forms.Record, bool, error) {
	r, ok := f.records[id]
	return r, ok, nil
}

func (f *fakeStore) Decide(_ context.Context, id string, st forms.Status, reason string, at time.Time) error {
	r := f.records[id]
	r.Status, r.Reason, r.DecidedAt = st, reason, at
	f.records[id] = r
	return nil
}

func (f *fakeStore) IsParent(_ context.Context, p, c personkey.Key) (bool, error) {
	return f.parents[[2]personkey.Key{p, c}], nil
}

func (f *fakeStore) Deceased(_ context.Context, k personkey.Key) (bool, error) { return f.dead[k], nil }

type fakeSettings struct {
	st map[personkey.Key]settings.State
}

func (f *fakeSettings) Settings(_ context.Context, k personkey.Key) (settings.State, error) {
	return f.st[k], nil
}

func (f *fakeSettings) Save(_ context.Context, k personkey.Key, u settings.Update) error {
	f.st[k] = u.Next
	return nil
}

type noConsents struct{}

func (noConsents) Withdraw(context.Context, consent.Person, consent.Withdrawal) (consent.Receipt, error) {
	return consent.Receipt{}, nil
}

var now = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

type world struct {
	store *fakeStore
	sets  *fakeSettings
	p     *forms.Processor
	n     int
}

func newWorld(childRecordAge int) *world {
	w := &world{store: &fakeStore{records: map[string]forms.Record{}, parents: map[[2]personkey.Key]bool{}, dead: map[personkey.Key]bool{}},
		sets: &fakeSettings{st: map[personkey.Key]settings.State{}}}
	svc := &settings.Service{Store: w.sets, Now: func() time.Time { return now }, NewID: func() string { return "id" }}
	w.p = &forms.Processor{Store: w.store, Deaths: w.store, Settings: svc, Consents: noConsents{}, Now: func() time.Time { return now }, ChildRecordAge: childRecordAge}
	return w
}

// apply runs one form for a subject of the given age, signed by the subject
// (adult forms) or by a parent (child forms).
func (w *world) apply(t *testing.T, kind forms.Kind, age int) (forms.Status, string, personkey.Key) {
	t.Helper()
	w.n++
	birth := clock.AddYears(clock.DateOf(now), -age)
	birth = nin.Date{Year: birth.Year, Month: birth.Month, Day: birth.Day}
	subject := personkey.Key(fmt.Sprintf("subject-%d", w.n))
	signer := subject
	if kind.ForChild() {
		signer = "parent"
		w.store.parents[[2]personkey.Key{signer, subject}] = true
	}
	id := fmt.Sprintf("F-%d", w.n)
	w.store.records[id] = forms.Record{FormID: id, Kind: kind, Status: forms.Received}
	st, reason, err := w.p.Apply(context.Background(), forms.Work{Version: 1, FormID: id, Kind: kind, SubjectKey: subject, SubjectBirth: birth.String(),
		SignerKey: signer, SignerBirth: "1980-01-01", ReceivedDate: "2026-11-20"})
	if err != nil {
		t.Fatal(err)
	}
	return st, reason, subject
}

func TestDeadPersonsFormsAreRejected(t *testing.T) {
	for _, tt := range []struct {
		name   string
		kind   forms.Kind
		age    int
		dead   string // "subject" or "signer"
		reason string
	}{
		{"block for a dead adult", forms.BlockAdult, 40, "subject", "subject_deceased"},
		{"block for a dead child", forms.BlockChild, 8, "subject", "subject_deceased"},
		{"block signed by a dead parent", forms.BlockChild, 8, "signer", "signer_deceased"},
		{"withdrawal for a dead child", forms.WithdrawConsentChild, 8, "subject", "subject_deceased"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(16)
			next := personkey.Key(fmt.Sprintf("subject-%d", w.n+1))
			if tt.dead == "subject" {
				w.store.dead[next] = true
			} else {
				w.store.dead["parent"] = true
			}
			st, reason, subject := w.apply(t, tt.kind, tt.age)
			if st != forms.Rejected || reason != tt.reason {
				t.Errorf("got %s %s, want rejected %s", st, reason, tt.reason)
			}
			if _, changed := w.sets.st[subject]; changed {
				t.Error("a rejected form changed settings")
			}
		})
	}
}

// TestEveryAgeHasAForm: for every configured patient-record age and every
// age of a subject, each action has a form that applies (the child form
// while a parent acts, the adult form from the limit on).
func TestEveryAgeHasAForm(t *testing.T) {
	actions := map[string][2]forms.Kind{
		"block":          {forms.BlockAdult, forms.BlockChild},
		"reinstate":      {forms.ReinstateAdult, forms.ReinstateChild},
		"record remove":  {forms.RecordRemoveAdult, forms.RecordRemoveChild},
		"record restore": {forms.RecordRestoreAdult, forms.RecordRestoreChild},
		"withdraw":       {forms.WithdrawConsentAdult, forms.WithdrawConsentChild},
	}
	for limit := 0; limit <= 18; limit++ {
		for age := 0; age <= 30; age++ {
			for name, k := range actions {
				if forms.Applies(k[0], age, limit) != "" && forms.Applies(k[1], age, limit) != "" {
					t.Errorf("limit %d, age %d: no %s form applies", limit, age, name)
				}
			}
		}
	}
	tests := []struct {
		kind       forms.Kind
		age, limit int
		want       string
	}{
		{forms.RecordRemoveAdult, 14, 12, ""},
		{forms.RecordRemoveChild, 14, 12, "child_not_under_12"},
		{forms.RecordRemoveChild, 11, 12, ""},
		{forms.RecordRestoreAdult, 11, 12, "subject_under_12_use_child_form"},
		{forms.RecordRemoveAdult, 14, 16, "subject_under_16_use_child_form"},
		{forms.RecordRemoveChild, 15, 0, ""},
		{forms.BlockAdult, 14, 12, "subject_under_16_use_child_form"},
		{forms.BlockChild, 16, 12, "child_not_under_16"},
	}
	for _, tt := range tests {
		if got := forms.Applies(tt.kind, tt.age, tt.limit); got != tt.want {
			t.Errorf("Applies(%s, %d, %d) = %q, want %q", tt.kind, tt.age, tt.limit, got, tt.want)
		}
	}
}

func TestATeenSignsTheAdultRecordFormWhenTheLimitIs12(t *testing.T) {
	w := newWorld(12)
	st, reason, subject := w.apply(t, forms.RecordRemoveAdult, 14)
	if st != forms.Applied || !w.sets.st[subject].PatientRecordRemoved {
		t.Errorf("got %s %s", st, reason)
	}
}
