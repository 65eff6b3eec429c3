package forms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

var keys, _ = personkey.New([]byte(personkey.DevSecret))

const (
	adult  = "14838500073" // 41
	parent = "01879000099" // 36
	child  = "05851250095" // 14
	teen   = "04031051296" // 16
)

// reason is the problem's reason and message ("reason: message"),
// "internal" for an error that is not a domain one, "" for none.
func reason(err error) string {
	if e, ok := domain.AsError(err); ok {
		return e.Reason + ": " + e.Message
	}
	if err != nil {
		return "internal"
	}
	return ""
}

func TestSubmissionValidate(t *testing.T) {
	ok := forms.Submission{FormID: "F-1", Kind: forms.BlockAdult, Subject: adult, Signer: adult, ReceivedDate: "2026-11-29"}
	with := func(f func(*forms.Submission)) forms.Submission { s := ok; f(&s); return s }
	tests := []struct {
		name string
		s    forms.Submission
		want string
	}{
		{"adult form", ok, ""},
		{"child form", with(func(s *forms.Submission) { s.Kind, s.Subject, s.Signer = forms.BlockChild, child, parent }), ""},
		{"received today", with(func(s *forms.Submission) { s.ReceivedDate = "2026-11-30" }), ""},
		{"bad form id", with(func(s *forms.Submission) { s.FormID = "-x" }), "invalid_form_id: formId must be 1-64 characters of A-Z a-z 0-9 . _ -."},
		{"unknown kind", with(func(s *forms.Submission) { s.Kind = "block_everyone" }), "unknown_kind: kind is not a known form kind."},
		{"bad subject", with(func(s *forms.Submission) { s.Subject = "14838500074" }), "invalid_subject: subject is not a valid person id."},
		{"bad signer", with(func(s *forms.Submission) { s.Signer = "1" }), "invalid_signer: signer is not a valid person id."},
		{"bad date", with(func(s *forms.Submission) { s.ReceivedDate = "29.11.2026" }), "invalid_received_date: receivedDate must be a date (YYYY-MM-DD)."},
		{"future date", with(func(s *forms.Submission) { s.ReceivedDate = "2026-12-01" }), "received_in_future: receivedDate cannot be in the future."},
		{"adult form signed by another", with(func(s *forms.Submission) { s.Signer = parent }), "signer_not_subject: An adult form must be signed by the person it concerns."},
		{"child form signed by the child", with(func(s *forms.Submission) { s.Kind, s.Signer = forms.BlockChild, adult }), "signer_is_child: A child form must be signed by a parent."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := tt.s.Validate(keys, nin.Rules{AllowSynthetic: true}, now, forms.Limits{})
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err != nil {
				return
			}
			w.Operator = "operator-17" // Intake.Submit adds it; the queue needs it
			back, err := forms.DecodeWork(w.Encode())
			if err != nil || back != w {
				t.Fatalf("work does not round-trip: %+v, %v", back, err)
			}
			if w.SubjectKey == "" || w.SignerKey == "" || w.SubjectBirth == "" {
				t.Fatalf("work lacks keys or birth: %+v", w)
			}
		})
	}
}

// fakeRecords is the form store and the queue.
type fakeRecords struct {
	recs   map[string]forms.Record
	writes int // CreateForm and Decide calls
	sent   []string
	parent bool
	failed error
}

func (f *fakeRecords) CreateForm(_ context.Context, r forms.Record) (forms.Record, bool, error) {
	f.writes++
	if old, ok := f.recs[r.FormID]; ok {
		return old, false, nil
	}
	r.Status = forms.Received
	f.recs[r.FormID] = r
	return r, true, nil
}

func (f *fakeRecords) Form(_ context.Context, id string) (forms.Record, bool, error) {
	r, ok := f.recs[id]
	return r, ok, nil
}

func (f *fakeRecords) Decide(_ context.Context, id string, status forms.Status, reason string, at time.Time) error {
	f.writes++
	r := f.recs[id]
	r.Status, r.Reason, r.DecidedAt = status, reason, at
	f.recs[id] = r
	return nil
}

func (f *fakeRecords) IsParent(context.Context, personkey.Key, personkey.Key) (bool, error) {
	return f.parent, nil
}

func (f *fakeRecords) Send(_ context.Context, body string) error {
	if f.failed != nil {
		return f.failed
	}
	f.sent = append(f.sent, body)
	return nil
}

func TestIntakeSubmit(t *testing.T) {
	s := forms.Submission{FormID: "F-1", Kind: forms.BlockAdult, Subject: adult, Signer: adult, ReceivedDate: "2026-11-29"}
	f := &fakeRecords{recs: map[string]forms.Record{}}
	in := &forms.Intake{Records: f, Queue: f, Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, Now: func() time.Time { return now }}
	ctx := context.Background()

	rec, created, err := in.Submit(ctx, "operator-17", s)
	if err != nil || !created || rec.Status != forms.Received || len(f.sent) != 1 {
		t.Fatalf("first: %+v, created %v, err %v, sent %d; want received, created, sent once", rec, created, err, len(f.sent))
	}
	if w, err := forms.DecodeWork(f.sent[0]); err != nil || w.Operator != "operator-17" || rec.Operator != "operator-17" {
		t.Fatalf("operator: work %+v (%v), record %q; want operator-17 on both", w, err, rec.Operator)
	}
	// Keyed in by another operator: the same form, the first operator kept.
	if rec, created, err := in.Submit(ctx, "operator-99", s); err != nil || created || rec.Operator != "operator-17" {
		t.Fatalf("another operator: %+v, created %v, err %v", rec, created, err)
	}
	f.sent = f.sent[:1]
	// Without an operator nothing is stored or sent.
	writes, records := f.writes, len(f.recs)
	anon := s
	anon.FormID = "F-9"
	if _, _, err := in.Submit(ctx, "", anon); reason(err) != "missing_operator_identity: An operator token must carry the operator's identity (sub)." ||
		len(f.sent) != 1 || f.writes != writes || len(f.recs) != records {
		t.Fatalf("no operator: %v, sent %d, writes %d→%d, records %d→%d", err, len(f.sent), writes, f.writes, records, len(f.recs))
	}
	// A retry while still received is sent again (heals a lost send).
	if _, created, err := in.Submit(ctx, "operator-17", s); err != nil || created || len(f.sent) != 2 || f.sent[1] != f.sent[0] {
		t.Fatalf("retry: created %v, err %v, sent %v", created, err, f.sent)
	}
	// A different form under the same id is a conflict: nothing is sent,
	// even while the first form is still received.
	other := s
	other.Kind = forms.ReinstateAdult
	if _, _, err := in.Submit(ctx, "operator-17", other); reason(err) != "form_id_conflict: A different form with this id was submitted before." ||
		len(f.sent) != 2 || f.recs["F-1"].Status != forms.Received {
		t.Fatalf("different form: %v, sent %d, record %+v; want form_id_conflict, nothing sent or changed", err, len(f.sent), f.recs["F-1"])
	}
	// Once decided, the same form again is answered and not sent.
	f.recs["F-1"] = forms.Record{FormID: "F-1", Status: forms.Applied, Digest: f.recs["F-1"].Digest}
	if rec, created, err := in.Submit(ctx, "operator-17", s); err != nil || created || rec.Status != forms.Applied || len(f.sent) != 2 {
		t.Fatalf("after decision: %+v, created %v, err %v, sent %d", rec, created, err, len(f.sent))
	}
	// An invalid form stores and sends nothing.
	bad := s
	bad.FormID = "F-2"
	bad.Signer = parent
	if _, _, err := in.Submit(ctx, "operator-17", bad); reason(err) != "signer_not_subject: An adult form must be signed by the person it concerns." || len(f.recs) != 1 || len(f.sent) != 2 {
		t.Fatalf("invalid: %v, records %d, sent %d", err, len(f.recs), len(f.sent))
	}
	// A failed send fails the submit (the operator retries).
	f.failed = errors.New("sqs down")
	third := s
	third.FormID = "F-3"
	if _, _, err := in.Submit(ctx, "operator-17", third); reason(err) != "internal" {
		t.Fatalf("failed send: %v", err)
	}
}

func TestIntakeStatus(t *testing.T) {
	f := &fakeRecords{recs: map[string]forms.Record{"F-1": {FormID: "F-1", Status: forms.Received}}}
	in := &forms.Intake{Records: f, Queue: f, Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, Now: func() time.Time { return now }}
	for _, tt := range []struct{ id, want string }{{"F-1", ""}, {"F-2", "form_not_found: No form with this id."}, {"../x", "form_not_found: No form with this id."}} {
		if _, err := in.Status(context.Background(), tt.id); reason(err) != tt.want {
			t.Errorf("Status(%q): %v, want %q", tt.id, err, tt.want)
		}
	}
}

// fakeSettings and fakeConsents record what the processor asked for.
type fakeSettings struct {
	state settings.State
	saved []settings.Update
}

func (f *fakeSettings) Settings(context.Context, personkey.Key) (settings.State, error) {
	return f.state, nil
}
func (f *fakeSettings) Save(_ context.Context, _ personkey.Key, u settings.Update) error {
	f.saved = append(f.saved, u)
	f.state = u.Next
	return nil
}

type fakeConsents struct {
	withdrawals []consent.Withdrawal
	err         error
}

func (f *fakeConsents) Withdraw(_ context.Context, _ consent.Person, w consent.Withdrawal) (consent.Receipt, error) {
	f.withdrawals = append(f.withdrawals, w)
	return consent.Receipt{}, f.err
}

func TestProcessorApply(t *testing.T) {
	tests := []struct {
		name       string
		kind       forms.Kind
		subject    string
		signer     string
		isParent   bool
		consentErr error
		wantStatus forms.Status
		wantReason string
		wantChange *settings.Change // the recorded settings change, if any
		wantDraw   bool
	}{
		{"adult block", forms.BlockAdult, adult, adult, false, nil, forms.Applied, "", &settings.Change{Setting: settings.EmergencyBlock, Value: "blocked", By: settings.BySelf, Channel: settings.Paper, FormID: "F-1", Operator: "operator-17"}, false},
		{"child block by parent", forms.BlockChild, child, parent, true, nil, forms.Applied, "", &settings.Change{Setting: settings.EmergencyBlock, Value: "blocked", By: settings.ByParent, Channel: settings.Paper, FormID: "F-1", Operator: "operator-17"}, false},
		{"child form not by a parent", forms.BlockChild, child, parent, false, nil, forms.Rejected, "signer_lacks_parental_responsibility", nil, false},
		{"child form for a 16-year-old", forms.BlockChild, teen, parent, true, nil, forms.Rejected, "child_not_under_16", nil, false},
		{"adult form for a child", forms.BlockAdult, child, child, false, nil, forms.Rejected, "subject_under_16_use_child_form", nil, false},
		{"record removal", forms.RecordRemoveAdult, adult, adult, false, nil, forms.Applied, "", &settings.Change{Setting: settings.PatientRecordAccess, Value: "removed", By: settings.BySelf, Channel: settings.Paper, FormID: "F-1", Operator: "operator-17"}, false},
		{"withdraw consent", forms.WithdrawConsentAdult, adult, adult, false, nil, forms.Applied, "", nil, true},
		{"withdraw without consent", forms.WithdrawConsentAdult, adult, adult, false, domain.Errorf(domain.ENotFound, "no_consent", "x"), forms.Rejected, "no_consent_to_withdraw", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := forms.Submission{FormID: "F-1", Kind: tt.kind, Subject: tt.subject, Signer: tt.signer, ReceivedDate: "2026-11-29"}.Validate(keys, nin.Rules{AllowSynthetic: true}, now, forms.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			w.Operator = "operator-17"
			store := &fakeRecords{recs: map[string]forms.Record{"F-1": {FormID: "F-1", Status: forms.Received}}, parent: tt.isParent}
			st := &fakeSettings{}
			cs := &fakeConsents{err: tt.consentErr}
			p := &forms.Processor{Store: store, Deaths: noDeaths{}, Settings: &settings.Service{Store: st, Now: func() time.Time { return now }, NewID: func() string { return "c" }},
				Consents: cs, Now: func() time.Time { return now }}
			status, why, err := p.Apply(context.Background(), w)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus || why != tt.wantReason {
				t.Fatalf("got %s %q, want %s %q", status, why, tt.wantStatus, tt.wantReason)
			}
			if r := store.recs["F-1"]; r.Status != status || r.Reason != why || !r.DecidedAt.Equal(now) {
				t.Fatalf("record = %+v", r)
			}
			switch {
			case tt.wantChange == nil && len(st.saved) != 0:
				t.Fatalf("settings changed: %+v", st.saved)
			case tt.wantChange != nil:
				if len(st.saved) != 1 {
					t.Fatalf("saved %d changes, want 1", len(st.saved))
				}
				c := st.saved[0].Change
				c.ID, c.At = "", time.Time{}
				if c != *tt.wantChange {
					t.Fatalf("change = %+v, want %+v", c, *tt.wantChange)
				}
			}
			if (len(cs.withdrawals) == 1) != tt.wantDraw {
				t.Fatalf("withdrawals = %+v", cs.withdrawals)
			}
			if d := cs.withdrawals; tt.wantDraw && (d[0].Channel != consent.ChannelPaper || d[0].FormID != "F-1" || d[0].Operator != "operator-17") {
				t.Fatalf("withdrawal = %+v", cs.withdrawals[0])
			}
			// A decided form is left alone the second time.
			again, _, err := p.Apply(context.Background(), w)
			if err != nil || again != status || len(st.saved) > 1 || len(cs.withdrawals) > 1 {
				t.Fatalf("second apply: %s, %v; saved %d, withdrawals %d", again, err, len(st.saved), len(cs.withdrawals))
			}
		})
	}
}
