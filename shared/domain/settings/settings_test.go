package settings_test

import (
	"testing"

	"privacycore/shared/domain"
	"privacycore/shared/domain/settings"
)

func TestCheckAlive(t *testing.T) {
	tests := []struct {
		name                string
		actorDead, subjDead bool
		want                string
	}{
		{"both alive", false, false, ""},
		{"dead actor", true, false, "deceased"},
		{"dead actor and subject", true, true, "deceased"},
		{"dead subject", false, true, "person_deceased"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := settings.CheckAlive(tt.actorDead, tt.subjDead)
			got := ""
			if e, ok := domain.AsError(err); ok {
				got = e.Reason
				if e.Code != domain.EForbidden {
					t.Errorf("code %v, want forbidden", e.Code)
				}
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
