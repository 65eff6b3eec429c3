package localrun_test

import (
	"strings"
	"testing"
	"time"

	"privacycore/infra/localrun"
	"privacycore/infra/testenv"
)

// TestReadmeRegisterNoticesWalkThrough runs the README's "Register
// notices / Try it locally" block as written against a runner with the real
// functions. The only substitutions are where `make run` differs from a
// test: the runner's address (http://127.0.0.1:3000, and ADDR for make) and
// the stack name in table and queue names (privacycore-local-).
func TestReadmeRegisterNoticesWalkThrough(t *testing.T) {
	root, s := readme(t, "bash", "curl", "make", "aws", "python3")
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
	addr := serveWithPollers(t, runner)

	stackName := strings.TrimSuffix(local.Table("PrivacyTable"), "PrivacyTable")
	script := strings.ReplaceAll(block, "http://127.0.0.1:3000", "http://"+addr)
	script = strings.ReplaceAll(script, "privacycore-local-", stackName)
	if script == block {
		t.Fatal("no substitution applied: the walk-through no longer talks to the runner?")
	}

	out, stderr := runSession(t, root, script, "ADDR="+addr)
	for _, want := range []string{
		`"status":"active","level":"full"`,
		`"status":"withdrawn"`,
		`"channel":"registry"`,
		"SweeperFunction ran",
		`"DECEASED"`,
		`"RECEIPT#death-`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s\nstdout:\n%s\nstderr:\n%s", want, out, stderr)
		}
	}
	if strings.Contains(out, `"USAGE#`) || strings.Contains(out, `"CONSENT"`) {
		t.Errorf("data left after the purge:\n%s", out)
	}
}
