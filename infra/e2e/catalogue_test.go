package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/poa"
)

// TestChildBands: parents of a child under 12 reach the child's summary
// care record (read, settings, own entries) and usage log; vaccinations
// stay open for a 12–15-year-old.
func TestChildBands(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	w.parent(kari, small)
	w.parent(kari, teen)
	for _, c := range []struct{ service, child, want string }{
		{"summary_care_record", small, "allowed"},
		{"scr_settings", small, "allowed"},
		{"scr_own_entries", small, "allowed"},
		{"usage_log", small, "allowed"},
		{"vaccinations", teen, "allowed"},
		{"usage_log", teen, "child_over_12_restricted"},
		{"scr_settings", teen, "child_over_12_restricted"},
	} {
		if got := w.rule(kari, c.service, c.child); got != c.want {
			t.Errorf("%s for the child: %s, want %s", c.service, got, c.want)
		}
	}
}

// TestNewCatalogueServices: the services only the Norwegian page names,
// at its levels; reading messages is Basic, writing to providers Full.
func TestNewCatalogueServices(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "basic")
	w.consent(ola, "basic_plus")
	for _, c := range []struct{ pid, service, want string }{
		{kari, "messages", "allowed"},
		{kari, "write_to_providers", "consent_level_too_low"},
		{kari, "registry_correction", "allowed"},
		{kari, "patient_record_correction", "consent_level_too_low"},
		{ola, "patient_record_correction", "allowed"},
		{ola, "test_results", "consent_level_too_low"},
		{ola, "letters_and_forms", "consent_level_too_low"},
	} {
		if got := w.rule(c.pid, c.service, ""); got != c.want {
			t.Errorf("%s: %s, want %s", c.service, got, c.want)
		}
	}
	w.consent(kari, "full")
	for _, s := range []string{"write_to_providers", "test_results", "letters_and_forms"} {
		if got := w.rule(kari, s, ""); got != "allowed" {
			t.Errorf("%s at full: %s", s, got)
		}
	}
}

// TestSignificantServiceNeedsAReconfirmedGrant: a power of attorney given
// before write_to_providers was added as a significant change does not
// cover it (the grantor's list and the attorney's selector say so) until
// the grantor confirms it again in one request; one given after does.
func TestSignificantServiceNeedsAReconfirmedGrant(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	w.consent(stranger, "full")
	w.consent(ola, "full")
	old := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	grantID := domain.NewID()
	// Stored as before confirmedAt existed: it counts from createdAt.
	if err := w.store.Grants.CreateGrant(context.Background(), poa.Grant{ID: grantID, Grantor: w.key(stranger), Grantee: w.key(ola),
		Areas: []access.Area{access.AreaCommunication}, ValidFrom: old, ValidTo: old.AddDate(2, 0, 0), CreatedAt: old, UpdatedAt: old, Version: 1}); err != nil {
		t.Fatal(err)
	}
	d := w.decide(ola, "write_to_providers", stranger)
	if d.Body["rule"] != "poa_reconfirmation_required" || d.Body["role"] != "attorney" {
		t.Errorf("old grant: %s", d.Raw)
	}
	if got := w.rule(ola, "messages", stranger); got != "allowed" {
		t.Errorf("old grant, ordinary service: %s", got)
	}
	if got := needsConfirmation(w.call("representation", "representation/list.json", stranger, "", nil).Body["given"]); got != "[write_to_providers]" {
		t.Errorf("grantor's list, old grant: needs %s", got)
	}
	if got := needsConfirmation(w.call("representation", "representation/people.json", ola, "", nil).Body["people"]); got != "[write_to_providers]" {
		t.Errorf("attorney's selector, old grant: needs %s", got)
	}
	path := map[string]string{"id": grantID}
	if r := w.call("representation", "representation/confirm.json", ola, "", path); r.Status != 404 || r.Body["code"] != "grant_not_found" {
		t.Errorf("the attorney confirms: %d %s", r.Status, r.Raw)
	}
	for i := range 2 { // the second confirmation changes nothing
		r := w.call("representation", "representation/confirm.json", stranger, "", path)
		if r.Status != 200 || r.Body["version"] != float64(2) || r.Body["needsConfirmation"] != nil {
			t.Fatalf("confirmation %d: %d %s", i+1, r.Status, r.Raw)
		}
	}
	if got := w.rule(ola, "write_to_providers", stranger); got != "allowed" {
		t.Errorf("confirmed grant: %s", got)
	}
	if got := needsConfirmation(w.call("representation", "representation/people.json", ola, "", nil).Body["people"]); got != "[]" {
		t.Errorf("attorney's selector, confirmed grant: needs %s", got)
	}
	if r := w.call("representation", "representation/grant.json", kari, `{"grantee":"`+ola+`","areas":["communication"],"validTo":"2027-11-23T00:00:00Z"}`, nil); r.Status != 201 {
		t.Fatalf("new grant: %d %s", r.Status, r.Raw)
	}
	if got := w.rule(ola, "write_to_providers", kari); got != "allowed" {
		t.Errorf("new grant: %s", got)
	}
}

// needsConfirmation collects the needsConfirmation lists of a response's
// grants or people.
func needsConfirmation(items any) string {
	var out []any
	list, _ := items.([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		if n, ok := m["needsConfirmation"].([]any); ok {
			out = append(out, n...)
		}
	}
	return fmt.Sprint(out)
}
