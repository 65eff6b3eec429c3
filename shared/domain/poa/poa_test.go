package poa_test

import (
	"slices"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/poa"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func mustID(t *testing.T, s string) nin.ID {
	t.Helper()
	p, err := nin.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

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

func TestRequestValidate(t *testing.T) {
	adult, other, fifteen := mustID(t, "14838500073"), mustID(t, "01879000099"), mustID(t, "05851250095")
	areas := []access.Area{access.AreaHealthData}
	to := now.Add(24 * time.Hour)
	tests := []struct {
		name string
		r    poa.Request
		want string
	}{
		{"valid", poa.Request{Grantor: adult, Grantee: other, Areas: areas, ValidFrom: now, ValidTo: to}, ""},
		{"to oneself", poa.Request{Grantor: adult, Grantee: adult, Areas: areas, ValidFrom: now, ValidTo: to}, "grantee_is_grantor: You cannot give a power of attorney to yourself."},
		{"grantor under 16", poa.Request{Grantor: fifteen, Grantee: other, Areas: areas, ValidFrom: now, ValidTo: to}, "grantor_under_16: You must be 16 or older to give a power of attorney."},
		{"grantee under 18", poa.Request{Grantor: adult, Grantee: fifteen, Areas: areas, ValidFrom: now, ValidTo: to}, "grantee_under_18: The person receiving a power of attorney must be 18 or older."},
		{"terms", poa.Request{Grantor: adult, Grantee: other, ValidFrom: now, ValidTo: to}, "areas_required: Choose at least one service area."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reason(tt.r.Validate(now)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateTerms(t *testing.T) {
	hd, co := access.AreaHealthData, access.AreaCommunication
	tests := []struct {
		name     string
		areas    []access.Area
		from, to time.Time
		want     string
	}{
		{"valid", []access.Area{hd, co}, now, now.Add(time.Hour), ""},
		{"starts later", []access.Area{hd}, now.Add(24 * time.Hour), now.Add(48 * time.Hour), ""},
		{"exactly ten years", []access.Area{hd}, now, now.Add(poa.MaxValidity), ""},
		{"no areas", nil, now, now.Add(time.Hour), "areas_required: Choose at least one service area."},
		{"unknown area", []access.Area{"everything"}, now, now.Add(time.Hour), "unknown_area: The service area must be one of communication, health_data or administration."},
		{"area twice", []access.Area{hd, hd}, now, now.Add(time.Hour), "duplicate_area: Each service area may be given once."},
		{"no end", []access.Area{hd}, now, time.Time{}, "validity_required: validFrom and validTo are required."},
		{"no start", []access.Area{hd}, time.Time{}, now.Add(time.Hour), "validity_required: validFrom and validTo are required."},
		{"ends before it starts", []access.Area{hd}, now.Add(2 * time.Hour), now.Add(time.Hour), "invalid_validity: validTo must be after validFrom."},
		{"ends in the past", []access.Area{hd}, now.Add(-2 * time.Hour), now.Add(-time.Hour), "invalid_validity: validTo must be in the future."},
		{"ends now", []access.Area{hd}, now.Add(-time.Hour), now, "invalid_validity: validTo must be in the future."},
		{"too long", []access.Area{hd}, now, now.Add(poa.MaxValidity + time.Second), "validity_too_long: A power of attorney can run for at most ten years."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reason(poa.ValidateTerms(tt.areas, tt.from, tt.to, now)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGrantStatus(t *testing.T) {
	g := poa.Grant{ValidFrom: now, ValidTo: now.Add(time.Hour)}
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(-time.Second), "future"},
		{now, "active"},
		{now.Add(time.Hour - time.Nanosecond), "active"},
		{now.Add(time.Hour), "expired"},
	} {
		if got := g.Status(tt.at); got != tt.want {
			t.Errorf("Status(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := []access.Area{access.AreaHealthData, access.AreaAdministration, access.AreaCommunication}
	got := poa.Normalize(in)
	want := []access.Area{access.AreaAdministration, access.AreaCommunication, access.AreaHealthData}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if in[0] != access.AreaHealthData {
		t.Fatalf("Normalize changed its argument: %v", in)
	}
}
