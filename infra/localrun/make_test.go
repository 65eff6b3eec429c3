package localrun_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMakeHelpAndAddresses: `make help` lists the targets a newcomer needs;
// `make run` serves on ADDR, and sweep/clock follow ADDR or the README's API
// variable. Recipes are printed (make -n), not run.
func TestMakeHelpAndAddresses(t *testing.T) {
	root, _ := readme(t, "make", "bash")
	mk := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-s", "--no-print-directory"}, args...)...)
		cmd.Dir = root
		for _, kv := range cmd.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != "API" && k != "ADDR" && k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	help := mk("help")
	for _, target := range []string{"help", "run", "test", "token", "sweep", "trigger", "clock", "personkey", "docs", "bench"} {
		if !strings.Contains(help, "make "+target+" ") {
			t.Errorf("make help does not list %s:\n%s", target, help)
		}
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-n", "run"}, `local run -addr "127.0.0.1:3000"`},
		{[]string{"-n", "run", "ADDR=127.0.0.1:3400"}, `local run -addr "127.0.0.1:3400"`},
		{[]string{"-n", "sweep", "API=http://127.0.0.1:3401"}, `local trigger -addr "127.0.0.1:3401" "SweeperFunction"`},
		{[]string{"-n", "clock", "API=http://127.0.0.1:3402/"}, `local clock -addr "127.0.0.1:3402"`},
		{[]string{"-n", "trigger", "FN=AgeTransitionsFunction", "ADDR=127.0.0.1:3403"}, `local trigger -addr "127.0.0.1:3403" "AgeTransitionsFunction"`},
	}
	for _, tt := range tests {
		if got := mk(tt.args...); !strings.Contains(got, tt.want) {
			t.Errorf("make %s: want %s in\n%s", strings.Join(tt.args, " "), tt.want, got)
		}
	}
}

// TestMissingToolIsNamed: a missing tool is named with the line that
// installs it, and the check fails.
func TestMissingToolIsNamed(t *testing.T) {
	root, _ := readme(t, "bash")
	tests := []struct {
		tool string
		want []string
	}{
		{"moto_server", []string{"missing tool: moto_server", "pip install 'moto[server]'", "apt-get install -y python3-moto"}},
		{"aws", []string{"missing tool: aws", "pip install awscli", "brew install awscli"}},
		{"cfn-lint", []string{"missing tool: cfn-lint", "brew install cfn-lint"}},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			cmd := exec.Command("bash", "infra/scripts/need.sh", tt.tool)
			cmd.Dir = root
			cmd.Env = []string{"PATH=/nonexistent"} // nothing is installed
			bash, err := exec.LookPath("bash")
			if err != nil {
				t.Fatal(err)
			}
			cmd.Path = bash
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("need.sh %s succeeded with an empty PATH:\n%s", tt.tool, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	cmd := exec.Command("bash", "infra/scripts/need.sh", "bash")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("need.sh bash (installed): %v %q, want success and silence", err, out)
	}
}
