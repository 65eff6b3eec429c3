package awsenv_test

import (
	"testing"

	"privacycore/shared/platform/awsenv"
)

func TestConfigTracing(t *testing.T) {
	base := map[string]string{"AWS_REGION": "eu-north-1", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
	tests := []struct {
		name        string
		extra       map[string]string
		wantOptions int
	}{
		{"local: no daemon, no tracing", nil, 0},
		{"lambda with Tracing: Active", map[string]string{"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}, 1},
		{"tracing disabled", map[string]string{"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000", "AWS_XRAY_SDK_DISABLED": "true"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.extra {
				env[k] = v
			}
			cfg, err := awsenv.Config(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got := len(cfg.APIOptions); got != tt.wantOptions {
				t.Errorf("got %d API options, want %d", got, tt.wantOptions)
			}
		})
	}
}
