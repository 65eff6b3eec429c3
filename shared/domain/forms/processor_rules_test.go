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

type procStore struct {
	records map[string]forms.Record
	parents map[[2]personkey.Key]bool
	dead    map[personkey.Key]bool
}

func (f *procStore) Form(_ context.Context, id string) (forms.Record, bool, error) {
	r, ok := f.records[id]
	return r, ok, nil
}

func (f *procStore) Decide(_ context.Context, id string, st forms.Status, reason string, at time.Time) error {
	r := f.records[id]
	r.Status, r.Reason, r.DecidedAt = st, reason, at
	f.records[id] = r
	return nil
}

func (f *procStore) IsParent(_ context.Context, p, c personkey.Key) (bool, error) {
	return f.parents[[2]personkey.Key{p, c}], nil
}

func (f *procStore) Deceased(_ context.Context, k personkey.Key) (bool, error) { return f.dead[k], nil }

type procSettings struct {
	st map[personkey.Key]settings.State
}

func (f *procSettings) Settings(_ context.Context, k personkey.Key) (settings.State, error) {
	return f.st[k], nil
}

func (f *procSettings) Save(_ context.Context, k personkey.Key, u settings.Update) error {
	f.st[k] = u.Next
	return nil
}

type noConsents struct{}

func (noConsents) Withdraw(context.Context, consent.Person, consent.Withdrawal) (consent.Receipt, error) {
	return consent.Receipt{}, nil
}

var day0 = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

type world struct {
	store *procStore
	sets  *procSettings
	p     *forms.Processor
	n     int
}

func newWorld(childRecordAge int) *world {
	w := &world{store: &procStore{records: map[string]forms.Record{}, parents: map[[2]personkey.Key]bool{}, dead: map[personkey.Key]bool{}},
		sets: &procSettings{st: map[personkey.Key]settings.State{}}}
	svc := &settings.Service{Store: w.sets, Now: func() time.Time { return day0 }, NewID: func() string { return "id" }}
	w.p = &forms.Processor{Store: w.store, Deaths: w.store, Settings: svc, Consents: noConsents{}, Now: func() time.Time { return day0 }, ChildRecordAge: childRecordAge}
	return w
}

// apply runs one form for a subject of the given age, signed by the subject
// (adult forms) or by a parent (child forms).
func (w *world) apply(t *testing.T, kind forms.Kind, age int) (forms.Status, string, personkey.Key) {
	t.Helper()
	w.n++
	birth := clock.AddYears(clock.DateOf(day0), -age)
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

type noDeaths struct{}

func (noDeaths) Deceased(context.Context, personkey.Key) (bool, error) { return false, nil }
