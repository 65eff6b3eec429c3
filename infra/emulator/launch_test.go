package emulator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log the server's output goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPythonFollowsTheShebang: the launcher runs under the python that
// runs moto_server, whether its #! names it directly, through env, or
// moto_server is a wrapper script (a pyenv shim) beside a python3.
func TestPythonFollowsTheShebang(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, "bin", "python3.11")
	shimDir := filepath.Join(dir, "shims")
	for _, d := range []string{filepath.Dir(py), shimDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeScript(t, py, "#!/bin/sh\n")
	writeScript(t, filepath.Join(shimDir, "python3"), "#!/usr/bin/env bash\n")
	t.Setenv("PATH", filepath.Dir(py)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cases := []struct{ name, shebang, want string }{
		{"direct", "#!" + py + "\n", py},
		{"env", "#!/usr/bin/env python3.11\n", py},
		{"wrapper beside python3", "#!/usr/bin/env bash\nexec pyenv\n", filepath.Join(shimDir, "python3")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin := filepath.Join(shimDir, "moto_server")
			writeScript(t, bin, c.shebang)
			if got, ok := python(bin); !ok || got != c.want {
				t.Errorf("python(%q) = %q, %v; want %q", c.shebang, got, ok, c.want)
			}
		})
	}
}

// TestUnpatchableMotoFallsBackToPlainMoto: when the launcher finds a moto
// it cannot patch (exit status 3), Start runs plain moto_server, which
// answers, and says so in Patched.
func TestUnpatchableMotoFallsBackToPlainMoto(t *testing.T) {
	real, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "python3"), "#!/bin/sh\necho 'moto_launch: cannot patch moto: test' >&2\nexit 3\n")
	bin := filepath.Join(dir, "moto_server")
	writeScript(t, bin, "#!/bin/sh\nexec "+real+" \"$@\"\n")
	t.Setenv("MOTO_SERVER", bin)
	t.Setenv("MOTO_PLAIN", "") // this test is about the launcher
	log := &syncBuffer{}
	s, err := Start(context.Background(), 0, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.Patched {
		t.Error("Patched = true after the launcher refused to patch")
	}
	if !strings.Contains(log.String(), "cannot patch moto: test") {
		t.Errorf("the launcher's reason is not in the log: %q", log.String())
	}
}

// TestQueryPatchAnswersAsMotoDoes runs testdata/query_diff.py: random
// queries (Limit, ExclusiveStartKey from the previous page or between
// items, both directions, begins_with, between, filters, projections, an
// index, large items near the 1 MB page limit) answered by moto's own
// Table.query and by the patched one on the same items must match page for
// page, items, counts and LastEvaluatedKey.
func TestQueryPatchAnswersAsMotoDoes(t *testing.T) {
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		bin = "moto_server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatal(err)
	}
	py, ok := python(path)
	if !ok {
		t.Fatal("no python for moto_server")
	}
	launcher := filepath.Join(t.TempDir(), "moto_launch.py")
	if err := os.WriteFile(launcher, []byte(motoLauncher), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, seed := range []string{"1", "2"} {
		out, err := exec.Command(py, "testdata/query_diff.py", launcher, seed, "60", "300").CombinedOutput()
		if err != nil {
			t.Fatalf("seed %s: %v\n%s", seed, err, out)
		}
		t.Logf("seed %s: %s", seed, strings.TrimSpace(string(out)))
	}
}
