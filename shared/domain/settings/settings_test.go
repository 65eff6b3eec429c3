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

func TestPortalCannotLiftProtections(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"adult reinstate", settings.PortalReinstate(false), "reinstate_by_form_1"},
		{"child reinstate", settings.PortalReinstate(true), "reinstate_by_form_2"},
		{"adult record restore", settings.PortalRestoreRecord(false), "restore_record_by_form_1"},
		{"child record restore", settings.PortalRestoreRecord(true), "restore_record_by_form_2"},
	}
	for _, tt := range tests {
		e, ok := domain.AsError(tt.err)
		if !ok || e.Reason != tt.want || e.Code != domain.EForbidden {
			t.Errorf("%s: got %v, want 403 %s", tt.name, tt.err, tt.want)
		}
	}
}
