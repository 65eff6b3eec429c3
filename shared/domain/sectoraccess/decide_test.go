package sectoraccess_test

import (
	"testing"

	"privacycore/shared/domain/sectoraccess"
)

const (
	hpA  = sectoraccess.HPR("1234567") // the professional asking
	hpB  = sectoraccess.HPR("7654321") // someone else
	rxX  = "0b6f7f4e-2f7a-4c1e-9a51-3c1d2e4f5a6b"
	rxY  = "1c7a8b9d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
	hpGP = sectoraccess.HPR("5550001")
)

type row struct {
	name string
	st   sectoraccess.State
	opt  bool // opted out of the summary care record
	gp   sectoraccess.HPR
	q    sectoraccess.Question
	want sectoraccess.Decision
}

func check(t *testing.T, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			got := sectoraccess.Decide(r.q, sectoraccess.Facts{State: r.st, SCROptedOut: r.opt, GP: r.gp})
			if got != r.want {
				t.Errorf("got %+v, want %+v", got, r.want)
			}
		})
	}
}

func allow(r sectoraccess.Rule) sectoraccess.Decision {
	return sectoraccess.Decision{Allowed: true, Rule: r}
}
func deny(r sectoraccess.Rule) sectoraccess.Decision { return sectoraccess.Decision{Rule: r} }

func rx(p sectoraccess.Prescriptions) sectoraccess.State { return sectoraccess.State{Prescriptions: p} }
func scr(s sectoraccess.SCR) sectoraccess.State          { return sectoraccess.State{SCR: s} }

var (
	askRx  = sectoraccess.Question{Professional: hpA, Resource: sectoraccess.Prescription, Prescription: rxX}
	askSCR = sectoraccess.Question{Professional: hpA, Resource: sectoraccess.SummaryCareRecord}
	askApp = sectoraccess.Question{Professional: hpA, Resource: sectoraccess.AppointmentHistory}
)

func emergency(q sectoraccess.Question) sectoraccess.Question { q.Emergency = true; return q }
func by(q sectoraccess.Question, h sectoraccess.HPR) sectoraccess.Question {
	q.Professional = h
	return q
}

func TestRxLimitedPrescriptions(t *testing.T) {
	st := rx(sectoraccess.Prescriptions{Limited: []string{rxX}})
	other := askRx
	other.Prescription = rxY
	check(t, []row{
		{"no settings", sectoraccess.State{}, false, "", askRx, allow(sectoraccess.NoRestriction)},
		{"the limited prescription", st, false, "", askRx, deny(sectoraccess.RxPrescriptionLimited)},
		{"another prescription", st, false, "", other, allow(sectoraccess.NoRestriction)},
		{"the GP too", st, false, hpA, askRx, deny(sectoraccess.RxPrescriptionLimited)},
		{"an emergency does not lift it", st, false, "", emergency(askRx), deny(sectoraccess.RxPrescriptionLimited)},
		{"does not touch the summary care record", st, false, "", askSCR, allow(sectoraccess.NoRestriction)},
	})
}

func TestRxBlockedProfessionals(t *testing.T) {
	st := rx(sectoraccess.Prescriptions{Blocked: []sectoraccess.HPR{hpA}})
	check(t, []row{
		{"the blocked professional", st, false, "", askRx, deny(sectoraccess.RxProfessionalBlocked)},
		{"another professional", st, false, "", by(askRx, hpB), allow(sectoraccess.NoRestriction)},
		{"blocked even if they are the GP under only-GP", rx(sectoraccess.Prescriptions{Blocked: []sectoraccess.HPR{hpA}, OnlyGP: true}), false, hpA, askRx, deny(sectoraccess.RxProfessionalBlocked)},
		{"block wins over a limited prescription", rx(sectoraccess.Prescriptions{Blocked: []sectoraccess.HPR{hpA}, Limited: []string{rxX}}), false, "", askRx, deny(sectoraccess.RxProfessionalBlocked)},
		{"does not touch the summary care record", st, false, "", askSCR, allow(sectoraccess.NoRestriction)},
	})
}

func TestRxOnlyGP(t *testing.T) {
	st := rx(sectoraccess.Prescriptions{OnlyGP: true})
	check(t, []row{
		{"the GP", st, false, hpA, askRx, allow(sectoraccess.NoRestriction)},
		{"not the GP", st, false, hpGP, askRx, deny(sectoraccess.RxNotGP)},
		{"no GP in the register", st, false, "", askRx, deny(sectoraccess.RxNotGP)},
		{"the GP, but the prescription is limited", rx(sectoraccess.Prescriptions{OnlyGP: true, Limited: []string{rxX}}), false, hpA, askRx, deny(sectoraccess.RxPrescriptionLimited)},
		{"not the GP and limited: only-GP decides", rx(sectoraccess.Prescriptions{OnlyGP: true, Limited: []string{rxX}}), false, hpGP, askRx, deny(sectoraccess.RxNotGP)},
		{"does not touch the summary care record", st, false, hpGP, askSCR, allow(sectoraccess.NoRestriction)},
	})
}

func TestSCRLimited(t *testing.T) {
	st := scr(sectoraccess.SCR{Limited: true})
	check(t, []row{
		{"record", st, false, "", askSCR, deny(sectoraccess.SCRAccessLimited)},
		{"appointment history", st, false, "", askApp, deny(sectoraccess.SCRAccessLimited)},
		{"record in an emergency", st, false, "", emergency(askSCR), allow(sectoraccess.SCRLimitedEmergency)},
		{"history in an emergency", st, false, "", emergency(askApp), allow(sectoraccess.SCRLimitedEmergency)},
		{"opted out: nothing to see, even in an emergency", st, true, "", emergency(askSCR), deny(sectoraccess.SCROptedOut)},
		{"does not touch prescriptions", st, false, "", askRx, allow(sectoraccess.NoRestriction)},
	})
}

func TestSCRBlockedProfessionals(t *testing.T) {
	st := scr(sectoraccess.SCR{Blocked: []sectoraccess.HPR{hpA}, Limited: true})
	check(t, []row{
		{"the blocked professional", st, false, "", askSCR, deny(sectoraccess.SCRProfessionalBlocked)},
		{"an emergency does not lift a named block", st, false, "", emergency(askSCR), deny(sectoraccess.SCRProfessionalBlocked)},
		{"their appointment history too", st, false, "", askApp, deny(sectoraccess.SCRProfessionalBlocked)},
		{"another professional meets the limitation", st, false, "", by(askSCR, hpB), deny(sectoraccess.SCRAccessLimited)},
		{"another professional, unlimited", scr(sectoraccess.SCR{Blocked: []sectoraccess.HPR{hpA}}), false, "", by(askSCR, hpB), allow(sectoraccess.NoRestriction)},
		{"does not touch prescriptions", st, false, "", askRx, allow(sectoraccess.NoRestriction)},
	})
}

func TestSCRAppointmentHistoryBlocked(t *testing.T) {
	st := scr(sectoraccess.SCR{AppointmentHistoryBlocked: true})
	check(t, []row{
		{"history", st, false, "", askApp, deny(sectoraccess.SCRAppointmentHistory)},
		{"history in an emergency", st, false, "", emergency(askApp), deny(sectoraccess.SCRAppointmentHistory)},
		{"the rest of the record", st, false, "", askSCR, allow(sectoraccess.NoRestriction)},
		{"history block before the limitation", scr(sectoraccess.SCR{AppointmentHistoryBlocked: true, Limited: true}), false, "", emergency(askApp), deny(sectoraccess.SCRAppointmentHistory)},
		{"does not touch prescriptions", st, false, "", askRx, allow(sectoraccess.NoRestriction)},
	})
}

func TestSCROptedOut(t *testing.T) {
	check(t, []row{
		{"record", sectoraccess.State{}, true, "", askSCR, deny(sectoraccess.SCROptedOut)},
		{"history", sectoraccess.State{}, true, "", askApp, deny(sectoraccess.SCROptedOut)},
		{"opt-out wins over a named block", scr(sectoraccess.SCR{Blocked: []sectoraccess.HPR{hpA}}), true, "", askSCR, deny(sectoraccess.SCROptedOut)},
		{"prescriptions live in the Prescription Intermediary", sectoraccess.State{}, true, "", askRx, allow(sectoraccess.NoRestriction)},
	})
}

func TestNeedsGP(t *testing.T) {
	tests := []struct {
		name string
		st   sectoraccess.State
		q    sectoraccess.Question
		want bool
	}{
		{"no only-GP", sectoraccess.State{}, askRx, false},
		{"only-GP, prescription", rx(sectoraccess.Prescriptions{OnlyGP: true}), askRx, true},
		{"only-GP but blocked anyway", rx(sectoraccess.Prescriptions{OnlyGP: true, Blocked: []sectoraccess.HPR{hpA}}), askRx, false},
		{"only-GP, summary care record", rx(sectoraccess.Prescriptions{OnlyGP: true}), askSCR, false},
	}
	for _, tt := range tests {
		if got := sectoraccess.NeedsGP(tt.q, tt.st); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseHPR(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"123456", true}, {"1234567", true}, {"123456789", true},
		{"12345", false}, {"1234567890", false}, {"0123456", false}, {"14838500073", false},
		{"12345a7", false}, {" 1234567", false}, {"", false}, {"１２３４５６７", false},
	}
	for _, tt := range tests {
		_, err := sectoraccess.ParseHPR(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseHPR(%q): err %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestParseQuestion(t *testing.T) {
	tests := []struct {
		name                 string
		hpr, res, rx         string
		wantErr              string
		wantPrescriptionLowr string
	}{
		{"prescription", "1234567", "prescription", "0B6F7F4E-2F7A-4C1E-9A51-3C1D2E4F5A6B", "", rxX},
		{"prescription without id", "1234567", "prescription", "", "missing_field", ""},
		{"record with an id", "1234567", "summary_care_record", rxX, "unexpected_field", ""},
		{"bad id", "1234567", "prescription", "not-a-uuid", "invalid_prescription_id", ""},
		{"bad HPR", "12", "summary_care_record", "", "invalid_hpr", ""},
		{"unknown resource", "1234567", "lab_results", "", "unknown_resource", ""},
		{"history", "1234567", "appointment_history", "", "", ""},
	}
	for _, tt := range tests {
		q, err := sectoraccess.ParseQuestion(tt.hpr, tt.res, tt.rx, false)
		got := ""
		if err != nil {
			got = reason(err)
		}
		if got != tt.wantErr || q.Prescription != tt.wantPrescriptionLowr {
			t.Errorf("%s: got %q %q, want %q %q", tt.name, got, q.Prescription, tt.wantErr, tt.wantPrescriptionLowr)
		}
	}
}

// FuzzParseQuestion: no input panics, and whatever is accepted is a valid
// question (an HPR of the documented form, a prescription only with one).
func FuzzParseQuestion(f *testing.F) {
	f.Add("1234567", "prescription", rxX)
	f.Add("14838500073", "summary_care_record", "")
	f.Fuzz(func(t *testing.T, hpr, res, rx string) {
		q, err := sectoraccess.ParseQuestion(hpr, res, rx, false)
		if err != nil {
			return
		}
		if _, err := sectoraccess.ParseHPR(string(q.Professional)); err != nil {
			t.Fatalf("accepted HPR %q", q.Professional)
		}
		if (q.Resource == sectoraccess.Prescription) != (q.Prescription != "") {
			t.Fatalf("accepted %+v", q)
		}
	})
}
