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
)

// readme checks that the tools a README session needs are installed and
// returns the repository root and README.md's text.
func readme(t *testing.T, tools ...string) (root, text string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed, and the README session needs it: %v", tool, err)
		}
	}
	tmplPath, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Dir(tmplPath)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(b)
}

// serveWithPollers runs the runner (HTTP and queue pollers) on a free loopback port until the test ends and
// returns its address.
func serveWithPollers(t *testing.T, runner *localrun.Runner) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- runner.Serve(ctx, l) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// runSession runs a README block with bash -euo pipefail in root, as a
// second terminal would: no make jobserver or flags inherited from `make
// test`, env added on top. On timeout bash and everything it started (make,
// go, curl, aws) is killed. It fails the test if the block fails.
func runSession(t *testing.T, root, script string, env ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
	drop := map[string]bool{"MAKEFLAGS": true, "MFLAGS": true, "MAKELEVEL": true}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("README session failed: %v (context: %v)\nscript:\n%s\nstdout:\n%s\nstderr:\n%s", err, ctx.Err(), script, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}
