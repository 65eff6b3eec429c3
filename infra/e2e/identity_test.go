package e2e_test

import (
	"testing"
	"time"

	"privacycore/shared/domain/nin"
)

// TestTestIDsOnlyWhereAllowed: a stack that refuses test ids (prod) answers
// a token with a synthetic id 401 invalid_token, and refuses one in every
// body field that carries an id; a real-form id still works. A birth date
// after today is never an id, in any stage.
func TestTestIDsOnlyWhereAllowed(t *testing.T) {
	real := nin.ForTest(nin.Date{Year: 1980, Month: time.June, Day: 1}, false).Digits()
	realChild := nin.ForTest(nin.Date{Year: 2018, Month: time.June, Day: 1}, false).Digits()
	unborn := nin.ForTest(nin.Date{Year: 2026, Month: time.November, Day: 24}, false).Digits() // tomorrow in Oslo on day0
	prod := newWorld(t, map[string]string{"ALLOW_TEST_IDS": "false"})
	prod.ids = append(prod.ids, real, realChild, unborn)
	prod.consent(real, "full")

	if r := prod.call("consent", "consent/get.json", kari, "", nil); r.Status != 401 || code(r) != "invalid_token" {
		t.Errorf("synthetic token in prod: %d %s", r.Status, r.Raw)
	}
	if r := prod.call("consent", "consent/get.json", unborn, "", nil); r.Status != 401 || code(r) != "invalid_token" {
		t.Errorf("token of someone born tomorrow: %d %s", r.Status, r.Raw)
	}
	bodies := []struct {
		name, fn, fixture, body, want string
		status                        int
	}{
		{"decision subject", "access", "access/decide-self.json", `{"service":"messages","subject":"` + kari + `"}`, "invalid_subject", 400},
		{"grantee", "representation", "representation/grant.json", `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, "invalid_grantee", 400},
		{"child", "settings", "settings/block-child.json", `{"blocked":true,"child":"` + small + `"}`, "invalid_child", 400},
		{"unborn grantee", "representation", "representation/grant.json", `{"grantee":"` + unborn + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, "invalid_grantee", 400},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			if r := prod.call(b.fn, b.fixture, real, b.body, nil); r.Status != b.status || code(r) != b.want {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Raw, b.status, b.want)
			}
		})
	}
	form := `{"formId":"F-ID-1","kind":"block_adult","subject":"` + kari + `","signer":"` + kari + `","receivedDate":"2026-11-20"}`
	if r := prod.call("forms", "forms/block-adult.json", "", form, nil); r.Status != 400 || code(r) != "invalid_subject" {
		t.Errorf("form with a synthetic subject: %d %s", r.Status, r.Raw)
	}
	if r := prod.call("access", "access/decide-self.json", real, `{"service":"messages"}`, nil); r.Status != 200 || r.Body["allowed"] != true {
		t.Errorf("a real-form id in prod: %d %s", r.Status, r.Raw)
	}
	if n := prod.drain("FormsQueue", "forms"); n != 0 {
		t.Errorf("a refused form was queued")
	}

	// The same requests in a dev stack (the default: auto) are accepted.
	dev := newWorld(t, nil)
	dev.consent(kari, "full")
	if r := dev.call("access", "access/decide-self.json", kari, `{"service":"messages","subject":"`+ola+`"}`, nil); r.Status != 200 {
		t.Errorf("synthetic ids in dev: %d %s", r.Status, r.Raw)
	}
	if r := dev.call("consent", "consent/get.json", unborn, "", nil); r.Status != 401 || code(r) != "invalid_token" {
		t.Errorf("born tomorrow, dev: %d %s", r.Status, r.Raw)
	}
}
