package wire

import (
	"testing"
	"time"
)

func TestIDRules(t *testing.T) {
	tests := []struct {
		allow, stage string
		want         bool
		wantErr      bool
	}{
		{"", "dev", true, false},
		{"auto", "local", true, false},
		{"auto", "prod", false, false},
		{"", "prod", false, false},
		{"true", "prod", true, false},
		{"false", "dev", false, false},
		{"yes", "dev", false, true},
	}
	for _, tt := range tests {
		env := Env{Now: func() time.Time { return time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC) }, Getenv: func(k string) string {
			return map[string]string{"ALLOW_TEST_IDS": tt.allow, "STAGE": tt.stage}[k]
		}}
		r, err := env.idRules()
		if (err != nil) != tt.wantErr || r.AllowSynthetic != tt.want {
			t.Errorf("ALLOW_TEST_IDS=%q STAGE=%q: got %v %v, want %v", tt.allow, tt.stage, r.AllowSynthetic, err, tt.want)
		}
		if err == nil && r.Today().String() != "2026-11-24" {
			t.Errorf("today in Oslo: %s", r.Today())
		}
	}
}
