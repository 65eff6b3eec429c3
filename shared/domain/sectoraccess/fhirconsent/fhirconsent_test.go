package fhirconsent_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/sectoraccess"
	"privacycore/shared/domain/sectoraccess/fhirconsent"
)

// Validate checks a FHIR R4 resource (a Consent or a Bundle of them) with
// Google's FHIR library: required elements, cardinalities, code value sets
// (status, provision type, data meaning), reference target types, date-time
// formats. It is test-only: the library is far too big for a Lambda binary.
func Validate(t testing.TB, b []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.UnmarshalR4(b); err != nil {
		t.Errorf("not a valid FHIR R4 resource: %v\n%s", err, b)
	}
}

var at = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

func states() map[string]sectoraccess.State {
	since := map[sectoraccess.Setting]time.Time{}
	for _, s := range sectoraccess.PersonnelSettings {
		since[s] = at
	}
	for _, p := range sectoraccess.Purposes {
		since[sectoraccess.ResearchSetting(p.ID)] = at
	}
	return map[string]sectoraccess.State{
		"nothing set": {},
		"everything set": {
			Prescriptions: sectoraccess.Prescriptions{Limited: []string{"0b6f7f4e-2f7a-4c1e-9a51-3c1d2e4f5a6b"}, Blocked: []sectoraccess.HPR{"1234567", "7654321"}, OnlyGP: true},
			SCR:           sectoraccess.SCR{Limited: true, Blocked: []sectoraccess.HPR{"1234567"}, AppointmentHistoryBlocked: true},
			Research:      map[sectoraccess.Purpose]bool{"hunt": true, "quality_registries": false},
			Since:         since, Version: 3,
		},
	}
}

// TestEveryResourceIsValidFHIR validates the Bundle and every Consent in it
// on its own, for a person with nothing set and one with everything set.
func TestEveryResourceIsValidFHIR(t *testing.T) {
	for name, st := range states() {
		t.Run(name, func(t *testing.T) {
			b := fhirconsent.Render(personkey.Key(strings.Repeat("ab", 32)), st)
			want := len(sectoraccess.PersonnelSettings) + len(sectoraccess.Purposes)
			if b.Total != want || len(b.Entry) != want {
				t.Fatalf("got %d resources, want one per setting (%d)", len(b.Entry), want)
			}
			whole, _ := json.Marshal(b)
			Validate(t, whole)
			for _, e := range b.Entry {
				one, _ := json.Marshal(e.Resource)
				Validate(t, one)
			}
		})
	}
}

// TestValidatorCatchesBrokenConsents shows the validation can fail: each
// case breaks a rendered Consent the way a bug would.
func TestValidatorCatchesBrokenConsents(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	b := fhirconsent.Render(personkey.Key(strings.Repeat("ab", 32)), states()["everything set"])
	one, _ := json.Marshal(b.Entry[1].Resource) // rx_blocked_professionals: actors, period
	provision := func(m map[string]any) map[string]any { return m["provision"].(map[string]any) }
	tests := map[string]func(map[string]any){
		"no status":             func(m map[string]any) { delete(m, "status") },
		"unknown status":        func(m map[string]any) { m["status"] = "blocked" },
		"no scope":              func(m map[string]any) { delete(m, "scope") },
		"provision type":        func(m map[string]any) { provision(m)["type"] = "maybe" },
		"patient is no Patient": func(m map[string]any) { m["patient"] = map[string]any{"reference": "Organization/1"} },
		"period start":          func(m map[string]any) { provision(m)["period"] = map[string]any{"start": "23.11.2026"} },
		"actor without role":    func(m map[string]any) { delete(provision(m)["actor"].([]any)[0].(map[string]any), "role") },
		"no category":           func(m map[string]any) { delete(m, "category") },
		"bad id":                func(m map[string]any) { m["id"] = "has_underscores" },
		"data meaning": func(m map[string]any) {
			provision(m)["data"] = []any{map[string]any{"meaning": "everything", "reference": map[string]any{"reference": "MedicationRequest/x"}}}
		},
		"resource type misspelt": func(m map[string]any) { m["resourceType"] = "Consents" },
		"unknown element":        func(m map[string]any) { m["hprNumbers"] = []any{"1234567"} },
	}
	for name, breakIt := range tests {
		var m map[string]any
		if err := json.Unmarshal(one, &m); err != nil {
			t.Fatal(err)
		}
		breakIt(m)
		broken, _ := json.Marshal(m)
		if _, err := u.UnmarshalR4(broken); err == nil {
			t.Errorf("%s: the validator accepted %s", name, broken)
		}
	}
}

func TestPseudonymIsStableAndNotTheKey(t *testing.T) {
	k := personkey.Key(strings.Repeat("cd", 32))
	p := fhirconsent.Pseudonym(k)
	if p != fhirconsent.Pseudonym(k) || strings.Contains(string(k), p) || len(p) != 32 {
		t.Errorf("pseudonym %q of %q", p, k)
	}
	b := fhirconsent.Render(k, sectoraccess.State{})
	for _, e := range b.Entry {
		if e.Resource.Patient.Reference != "Patient/"+p {
			t.Errorf("patient %q", e.Resource.Patient.Reference)
		}
	}
}

func TestResourcesCarryTheSettings(t *testing.T) {
	b := fhirconsent.Render(personkey.Key(strings.Repeat("ab", 32)), states()["everything set"])
	byCode := map[string]fhirconsent.Consent{}
	for _, e := range b.Entry {
		byCode[e.Resource.Category[1].Coding[0].Code] = e.Resource
	}
	blocked := byCode["rx_blocked_professionals"]
	if blocked.Status != "active" || blocked.Provision.Type != "deny" || len(blocked.Provision.Actor) != 2 ||
		blocked.Provision.Actor[0].Reference.Identifier.Value != "1234567" || blocked.Provision.Period.Start != "2026-11-23T11:00:00Z" {
		t.Errorf("rx_blocked_professionals: %+v", blocked)
	}
	if c := byCode["research.hunt"]; c.Scope.Coding[0].Code != "research" || c.Provision.Type != "permit" || c.Status != "active" {
		t.Errorf("research.hunt: %+v", c)
	}
	if c := byCode["research.research_contact"]; c.Provision.Type != "deny" || c.Status != "inactive" {
		t.Errorf("research.research_contact (no choice, consent-based): %+v", c)
	}
	if c := byCode["scr_limited"]; len(c.Provision.Provision) != 1 || c.Provision.Provision[0].Purpose[0].Code != "ETREAT" {
		t.Errorf("scr_limited: %+v", c)
	}
}
