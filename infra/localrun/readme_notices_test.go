package localrun_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
)

// TestReadmeRegisterNoticesWalkThrough runs the README's "Register
// notices / Try it locally" block as written against a runner with the real
// functions. The only substitutions are where `make run` differs from a
// test: the runner's address (http://127.0.0.1:3000, and ADDR for make) and
// the stack name in table and queue names (privacycore-local-).
func TestReadmeRegisterNoticesWalkThrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "make", "aws", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed, and the README's register-notices walk-through needs it: %v", tool, err)
		}
	}
	tmplPath, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(tmplPath)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "### Try it locally")
	if i < 0 {
		t.Fatal(`README.md has no "### Try it locally" section`)
	}
	j := strings.Index(s[i:], "```sh\n")
	k := strings.Index(s[i+j+6:], "```")
	if j < 0 || k < 0 {
		t.Fatal("no sh block in the walk-through")
	}
	block := s[i+j+6 : i+j+6+k]

	local := testenv.New(t)
	runner, _ := newRunner(t, local, realTemplate(t), localrun.Registry)
	runner.RetryDelay = time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- runner.Serve(serveCtx, l) }()
	t.Cleanup(func() { stop(); <-served })

	stackName := strings.TrimSuffix(local.Table("PrivacyTable"), "PrivacyTable")
	script := strings.ReplaceAll(block, "http://127.0.0.1:3000", "http://"+l.Addr().String())
	script = strings.ReplaceAll(script, "privacycore-local-", stackName)
	if script == block {
		t.Fatal("no substitution applied: the walk-through no longer talks to the runner?")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "ADDR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADDR="+l.Addr().String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("walk-through failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", err, script, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		`"status":"active","level":"full"`,
		`"status":"withdrawn"`,
		`"channel":"registry"`,
		"SweeperFunction ran",
		`"DECEASED"`,
		`"RECEIPT#death-`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s\nstdout:\n%s\nstderr:\n%s", want, out, stderr.String())
		}
	}
	if strings.Contains(out, `"USAGE#`) || strings.Contains(out, `"CONSENT"`) {
		t.Errorf("data left after the purge:\n%s", out)
	}
}
