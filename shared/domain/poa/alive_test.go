package poa_test

import (
	"testing"

	"privacycore/shared/domain"
	"privacycore/shared/domain/poa"
)

func code(err error) string {
	if e, ok := domain.AsError(err); ok {
		return e.Reason
	}
	return ""
}

func TestCheckAlive(t *testing.T) {
	tests := []struct {
		name                     string
		grantorDead, granteeDead bool
		want                     string
	}{
		{"both alive", false, false, ""},
		{"grantor dead", true, false, "deceased"},
		{"grantee dead", false, true, "grantee_deceased"},
		{"both dead", true, true, "deceased"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(poa.CheckAlive(tt.grantorDead, tt.granteeDead)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
