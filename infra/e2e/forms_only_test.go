package e2e_test

import (
	"testing"
)

// TestReinstatingOnlyByForm: lifting an emergency block and restoring
// patient-record access are refused in the portal with a code naming the
// form (1 for adults, 2 for children); blocking and removing stay possible
// in the portal; the forms do both.
func TestReinstatingOnlyByForm(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	w.parent(kari, small)
	w.parent(kari, teen)
	for _, c := range []struct{ fixture, pid, body string }{
		{"settings/block.json", kari, `{"blocked":true}`},
		{"settings/block-child.json", kari, `{"blocked":true,"child":"` + small + `"}`},
		{"settings/patient-record.json", kari, `{"enabled":false}`},
		{"settings/patient-record.json", kari, `{"enabled":false,"child":"` + small + `"}`},
	} {
		if r := w.call("settings", c.fixture, c.pid, c.body, nil); r.Status != 200 {
			t.Fatalf("%s %s in the portal: %d %s", c.fixture, c.body, r.Status, r.Raw)
		}
	}
	before := w.sortKeys(kari)
	for _, c := range []struct {
		name, fixture, pid, body, want string
	}{
		{"adult lifts own block", "settings/block.json", kari, `{"blocked":false}`, "reinstate_by_form_1"},
		{"parent lifts a child's block", "settings/block-child.json", kari, `{"blocked":false,"child":"` + small + `"}`, "reinstate_by_form_2"},
		{"child lifts own block", "settings/block.json", teen, `{"blocked":false}`, "reinstate_by_form_2"},
		{"adult restores own record access", "settings/patient-record.json", kari, `{"enabled":true}`, "restore_record_by_form_1"},
		{"parent restores a child's record access", "settings/patient-record.json", kari, `{"enabled":true,"child":"` + small + `"}`, "restore_record_by_form_2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := w.call("settings", c.fixture, c.pid, c.body, nil); r.Status != 403 || code(r) != c.want {
				t.Errorf("got %d %s, want 403 %s", r.Status, r.Raw, c.want)
			}
		})
	}
	if after := w.sortKeys(kari); len(after) != len(before) {
		t.Errorf("a refused change was recorded")
	}
	if got := w.rule(kari, "messages", ""); got != "emergency_block" {
		t.Errorf("still blocked: %s", got)
	}
	for _, f := range []struct{ kind, subject string }{
		{"reinstate_adult", kari}, {"reinstate_child", small}, {"patient_record_restore_adult", kari}, {"patient_record_restore_child", small},
	} {
		signer := kari
		if st, reason := w.form(f.kind, f.subject, signer); st != "applied" {
			t.Errorf("%s: %s %s", f.kind, st, reason)
		}
	}
	if got := w.rule(kari, "patient_record", ""); got != "allowed" {
		t.Errorf("after the forms, own record: %s", got)
	}
	if got := w.rule(kari, "patient_record", small); got != "allowed" {
		t.Errorf("after the forms, the child's record: %s", got)
	}
}

// TestEveryAgeHasAPatientRecordForm: with ChildPatientRecordAge=12 (the
// English page), a 14-year-old's patient-record access is changed with the
// form for adults, signed by the teenager; the child form is for under 12.
func TestEveryAgeHasAPatientRecordForm(t *testing.T) {
	w := newWorld(t, map[string]string{"CHILD_PATIENT_RECORD_AGE": "12"})
	w.consent(kari, "full")
	w.parent(kari, teen)
	w.parent(kari, small)
	for _, c := range []struct{ kind, subject, signer, status, reason string }{
		{"patient_record_remove_adult", teen, teen, "applied", ""},
		{"patient_record_restore_adult", teen, teen, "applied", ""},
		{"patient_record_remove_child", teen, kari, "rejected", "child_not_under_12"},
		{"patient_record_remove_child", small, kari, "applied", ""},
		{"patient_record_restore_adult", small, small, "rejected", "subject_under_12_use_child_form"},
		{"block_adult", teen, teen, "rejected", "subject_under_16_use_child_form"},
	} {
		st, reason := w.form(c.kind, c.subject, c.signer)
		if st != c.status || (c.reason != "" && reason != c.reason) {
			t.Errorf("%s for %s: %s %s, want %s %s", c.kind, c.subject, st, reason, c.status, c.reason)
		}
	}
	if n := count(w.sortKeys(teen), "OPTOUT#patient_record_access#"); n != 2 {
		t.Errorf("the teenager's own forms: %d records, want 2", n)
	}
}
