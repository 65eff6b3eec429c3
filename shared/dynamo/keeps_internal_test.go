package dynamo

import (
	"testing"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/settings"
)

// TestKeeps: what each erase scope keeps. The summary care record survives a
// withdrawal; an SCR purge takes only its own generations; death takes all.
func TestKeeps(t *testing.T) {
	tests := []struct {
		sk    string
		scope consent.Scope
		want  bool
	}{
		{"SCR#g0#entry1", consent.ScopeWithdrawal, true},
		{"SETTINGS", consent.ScopeWithdrawal, true},
		{"OPTOUT#scr_opt_out#2026#x", consent.ScopeWithdrawal, true},
		{"CONSENT", consent.ScopeWithdrawal, true},
		{"USAGE#2026#x", consent.ScopeWithdrawal, false},
		{"PROFILE#KIN", consent.ScopeWithdrawal, false},
		{"POA#GIVEN#k", consent.ScopeWithdrawal, false},
		{"SCR#g0#entry1", consent.ScopeEverything, false},
		{"SETTINGS", consent.ScopeEverything, false},
		{"DECEASED", consent.ScopeEverything, true},
		{"RECEIPT#r", consent.ScopeEverything, true},
		{"SCR#g0#entry1", settings.ScopeSCR(0), false},
		{"SCR#g1#entry1", settings.ScopeSCR(0), true},
		{"USAGE#2026#x", settings.ScopeSCR(0), true},
	}
	for _, tt := range tests {
		if got := keeps(tt.sk, tt.scope); got != tt.want {
			t.Errorf("keeps(%q, %q) = %v, want %v", tt.sk, tt.scope, got, tt.want)
		}
	}
}
