package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"privacycore/infra/apispec"
	"privacycore/infra/testenv"
)

// query calls fn with the fixture's event as pid, its query childRef set to
// the person selector's reference of child.
func (w *world) query(fn, fixture, pid, child string) resp {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, fixture)
	ev.RequestContext.Authorizer.JWT.Claims["pid"] = pid
	ref := string(w.key(child))
	ev.QueryStringParameters = map[string]string{"childRef": ref}
	ev.RawQueryString = "childRef=" + ref
	out, err := w.http[fn](context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, out)
	r := resp{Status: out.StatusCode, Raw: out.Body}
	_ = json.Unmarshal([]byte(out.Body), &r.Body)
	return r
}

// TestParentChildSCRSettingsAndUsageLog: a parent removes their child's
// summary care record access, opts it out, and reads the child's usage
// log, while the child is under 12 (the catalogue bands of scr_settings
// and usage_log); for a 14-year-old and for a stranger the routes refuse
// with not_your_child.
func TestParentChildSCRSettingsAndUsageLog(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	w.consent(ola, "full")
	w.parent(kari, small)
	w.parent(kari, teen)

	if r := w.call("settings", "settings/scr-access-child.json", kari, `{"enabled":false,"child":"`+small+`"}`, nil); r.Status != 200 ||
		fmt.Sprint(r.Body["summaryCareRecord"].(map[string]any)["access"]) != "false" {
		t.Fatalf("parent removing a child's SCR access: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/scr-opt-out.json", kari, `{"optedOut":true,"childRef":"`+string(w.key(small))+`"}`, nil); r.Status != 200 ||
		fmt.Sprint(r.Body["summaryCareRecord"].(map[string]any)["optedOut"]) != "true" {
		t.Fatalf("parent opting a child out of SCR: %d %s", r.Status, r.Raw)
	}
	if r := w.query("settings", "settings/get.json", kari, small); r.Status != 200 ||
		fmt.Sprint(r.Body["summaryCareRecord"]) != fmt.Sprint(map[string]any{"access": false, "optedOut": true, "generation": 0.0, "restorableUntil": r.Body["summaryCareRecord"].(map[string]any)["restorableUntil"]}) {
		t.Fatalf("the child's settings: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/get.json", kari, "", nil); r.Status != 200 ||
		fmt.Sprint(r.Body["summaryCareRecord"].(map[string]any)["access"]) != "true" {
		t.Fatalf("the parent's own SCR changed too: %d %s", r.Status, r.Raw)
	}

	// A use for the child lands in the child's log, which the parent reads.
	if r := w.call("access", "access/decide-child.json", kari, `{"service":"vaccinations","subject":"`+small+`","recordUse":true}`, nil); r.Status != 200 {
		t.Fatalf("decide: %d %s", r.Status, r.Raw)
	}
	r := w.query("access", "access/usage-log-child.json", kari, small)
	items, _ := r.Body["items"].([]any)
	if r.Status != 200 || len(items) == 0 {
		t.Fatalf("parent reading the child's usage log: %d %s", r.Status, r.Raw)
	}
	first := items[0].(map[string]any)
	if first["by"] != "parent" || first["kind"] != "use" || first["service"] != "vaccinations" {
		t.Errorf("the child's newest entry: %v, want a use by parent", first)
	}
	own := w.call("access", "access/usage-log.json", kari, "", nil)
	if own.Status != 200 || len(own.Body["items"].([]any)) != 0 {
		t.Errorf("the parent's own usage log: %d %s, want no entries (the use is the child's)", own.Status, own.Raw)
	}

	// 14 (12 or older), a stranger: refused, nothing stored.
	for _, c := range []struct {
		name string
		call func() resp
	}{
		{"SCR access of a 14-year-old", func() resp {
			return w.call("settings", "settings/scr-access-child.json", kari, `{"enabled":false,"child":"`+teen+`"}`, nil)
		}},
		{"SCR opt-out of a 14-year-old", func() resp {
			return w.call("settings", "settings/scr-opt-out.json", kari, `{"optedOut":true,"child":"`+teen+`"}`, nil)
		}},
		{"usage log of a 14-year-old", func() resp { return w.query("access", "access/usage-log-child.json", kari, teen) }},
		{"a stranger's SCR access", func() resp { return w.call("settings", "settings/scr-access-child.json", ola, "", nil) }},
		{"a stranger's usage log", func() resp { return w.query("access", "access/usage-log-child.json", ola, small) }},
	} {
		if r := c.call(); r.Status != 403 || r.Body["code"] != "not_your_child" {
			t.Errorf("%s: %d %s, want 403 not_your_child", c.name, r.Status, r.Raw)
		}
	}
	if r := w.query("settings", "settings/get.json", kari, teen); r.Status != 200 ||
		fmt.Sprint(r.Body["summaryCareRecord"].(map[string]any)["access"]) != "true" {
		t.Errorf("the 14-year-old's SCR after the refusals: %d %s", r.Status, r.Raw)
	}
}
