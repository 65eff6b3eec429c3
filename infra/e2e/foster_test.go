package e2e_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/infra/testenv"
)

// TestFosterParentIsNotAParent: a foster-care notice is recorded, gives
// nothing, and the decision names the actor a foster parent, not a parent.
func TestFosterParentIsNotAParent(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(ola, "full")
	w.foster(ola, small)
	d := w.decide(ola, "messages", small)
	if d.Body["allowed"] != false || d.Body["rule"] != "foster_parent" || d.Body["role"] != "foster_parent" {
		t.Errorf("foster decision: %s", d.Raw)
	}
	if got := w.rule(stranger, "messages", small); got != "no_relation" {
		t.Errorf("stranger: %s", got)
	}
	if r := w.call("settings", "settings/block-child.json", ola, `{"blocked":true,"child":"`+small+`"}`, nil); r.Status != 403 || code(r) != "not_your_child" {
		t.Errorf("foster parent blocking the child: %d %s", r.Status, r.Raw)
	}
}

// TestFosterNoticeFixtures: the fixtures `sam local invoke` takes are
// applied by the notice worker, and the foster parent never acts for the
// child.
func TestFosterNoticeFixtures(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	for _, f := range []string{"notices/foster-care-set.json", "notices/foster-care-ended.json"} {
		var ev events.SQSEvent
		testenv.LoadEvent(t, f, &ev)
		out, err := w.sqs["notices"](context.Background(), ev)
		if err != nil || len(out.BatchItemFailures) > 0 {
			t.Fatalf("%s: %v %v", f, err, out.BatchItemFailures)
		}
		if d := w.decide(kari, "messages", teen); d.Body["allowed"] != false || d.Body["role"] == "parent" {
			t.Errorf("after %s: %s", f, d.Raw)
		}
		if n := count(w.sortKeys(kari), "CHILD#"); n != 1 {
			t.Errorf("after %s: %d relation items, want 1 (recorded, or its tombstone)", f, n)
		}
	}
}
