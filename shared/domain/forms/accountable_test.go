package forms_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/nin"
)

const kari = adult // born 1983-08-14

// TestValidateReceivedDate: a form's received date is a real date, not in
// the future, not before the subject was born and at most MaxAgeDays old
// (counted in Europe/Oslo days).
func TestValidateReceivedDate(t *testing.T) {
	now := time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC) // already 24 November in Oslo
	// A child born 30 days before now, so a date before the birth is within the age limit.
	baby := nin.ForTest(nin.Date{Year: 2026, Month: time.October, Day: 25}, false).Digits()
	tests := []struct {
		name, subject, date string
		maxAge              int
		want                string
	}{
		{"yesterday", kari, "2026-11-23", 0, ""},
		{"today in Oslo (already tomorrow in UTC terms)", kari, "2026-11-24", 0, ""},
		{"tomorrow in Oslo", kari, "2026-11-25", 0, "received_in_future: receivedDate cannot be in the future."},
		{"not a date (30 February)", kari, "2026-02-30", 0, "invalid_received_date: receivedDate must be a date (YYYY-MM-DD)."},
		{"not a date (format)", kari, "24.11.2026", 0, "invalid_received_date: receivedDate must be a date (YYYY-MM-DD)."},
		{"exactly 90 days ago (default)", kari, "2026-08-26", 0, ""},
		{"91 days ago (default)", kari, "2026-08-25", 0, "received_too_old: receivedDate can be at most 90 days ago."},
		{"in 1900, before the subject's birth and too old", kari, "1900-01-01", 0, "received_before_birth: receivedDate cannot be before the person the form concerns was born."},
		{"30 days ago with a limit of 30", kari, "2026-10-25", 30, ""},
		{"31 days ago with a limit of 30", kari, "2026-10-24", 30, "received_too_old: receivedDate can be at most 30 days ago."},
		{"on the day of birth", baby, "2026-10-25", 0, ""},
		{"the day before birth", baby, "2026-10-24", 0, "received_before_birth: receivedDate cannot be before the person the form concerns was born."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := forms.Submission{FormID: "F-1", Kind: forms.BlockAdult, Subject: tt.subject, Signer: tt.subject, ReceivedDate: tt.date}
			if tt.subject == baby {
				s.Kind = forms.BlockChild
				s.Signer = kari
			}
			w, err := s.Validate(keys, nin.Rules{AllowSynthetic: true}, now, forms.Limits{MaxAgeDays: tt.maxAge})
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err == nil && w.ReceivedDate != tt.date {
				t.Errorf("work: got date %q", w.ReceivedDate)
			}
			if err != nil && strings.Contains(err.Error(), tt.subject) {
				t.Errorf("error echoes the person id: %v", err)
			}
		})
	}

}

func TestParseOperator(t *testing.T) {
	tests := []struct {
		sub, want string
	}{
		{"operator-17", ""},
		{"a1b2c3d4-e5f6-7890-abcd-ef0123456789", ""},
		{"helseid|saksbehandler@hn.example", ""},
		{"", "missing_operator_identity: An operator token must carry the operator's identity (sub)."},
		{kari, "invalid_operator_identity: The operator token's identity (sub) is not usable."},          // a person id
		{"14838500074", "invalid_operator_identity: The operator token's identity (sub) is not usable."}, // shaped like one
		{"has space", "invalid_operator_identity: The operator token's identity (sub) is not usable."},
		{"-leading-dash", "invalid_operator_identity: The operator token's identity (sub) is not usable."},
		{strings.Repeat("a", 129), "invalid_operator_identity: The operator token's identity (sub) is not usable."},
	}
	for _, tt := range tests {
		t.Run(tt.sub, func(t *testing.T) {
			op, err := forms.ParseOperator(tt.sub)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err == nil && string(op) != tt.sub {
				t.Errorf("got %q", op)
			}
			if err != nil {
				if e, _ := domain.AsError(err); e.Code != domain.EUnauthorized {
					t.Errorf("code %s, want %s", e.Code, domain.EUnauthorized)
				}
			}
		})
	}
}

// TestDecodeWorkNeedsOperator: a queued form without an operator is not
// applied (it goes to the dead-letter queue).
func TestDecodeWorkNeedsOperator(t *testing.T) {
	s := forms.Submission{FormID: "F-1", Kind: forms.BlockAdult, Subject: kari, Signer: kari, ReceivedDate: "2026-11-20"}
	w, err := s.Validate(keys, nin.Rules{AllowSynthetic: true}, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), forms.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w.Operator = "operator-17"
	got, err := forms.DecodeWork(w.Encode())
	if err != nil || got.Operator != "operator-17" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	w.Operator = ""
	if _, err := forms.DecodeWork(w.Encode()); !errors.Is(err, forms.ErrBadWork) {
		t.Errorf("without operator: got %v, want ErrBadWork", err)
	}
}
