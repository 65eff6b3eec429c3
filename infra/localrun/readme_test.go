package localrun_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"privacycore/infra/localrun"
	"privacycore/infra/testenv"
)

// apiLine starts every README block that talks to the local runner; the
// test sets API to the runner it serves, `make run` users get the default.
const apiLine = "API=${API:-http://127.0.0.1:3000}"

// readmeWants lists, per README heading, what the output of its block must
// contain. A new walk-through adds its heading here.
var readmeWants = map[string][]string{
	"Quick start": {
		`"status":"active","level":"basic"`,
		`"allowed":true`,
		`"rule":"consent_level_too_low"`,
	},
	"Consent: give, change only what you read, withdraw": {
		`ETag: "1"`,
		`"level":"full","patientTravel":true`,
		`"code":"version_mismatch"`,
		`"action":"change","level":"full","patientTravel":true,"channel":"portal","version":2},{`, // newest first
		`"reason":"consent_withdrawn"`,
	},
	"Register notices: a death and the delayed deletion": {
		`"status":"active","level":"full"`,
		"RegisterFeedFunction ran",
		`"status":"withdrawn"`,
		`"code":"deceased"`,
		`"channel":"registry"`,
		"SweeperFunction ran (request local-", // what it did, from its result:
		"jobsQueued=1 ",
		`"DECEASED"`,
		`"RECEIPT#death-`,
	},
	"Representation: a parent, a child and an attorney": {
		`"role":"parent"`,
		`"rule":"child_over_12_restricted"`,
		`"role":"attorney"`,
		`"rule":"grantor_lacks_access"`,
		`"because":"consent_level_too_low"`,
		`"relation":"grantor"`,
	},
	"Privacy settings and paper forms": {
		`"rule":"emergency_block"`,
		`"status":"applied"`,
		`"allowed":true`,
	},
	"Health personnel's access and the sector's view of it": {
		`"summaryCareRecord":{"limited":true,"blockedProfessionals":["1234567"],"appointmentHistoryBlocked":false},"version":1`,
		`"onlyGP":true},`,
		`"purpose":"quality_registries","kind":"reservation","allowed":false,"chosen":true`,
		`"setting":"research.quality_registries","value":"not_allowed","by":"self","channel":"portal"`,
		`{"allowed":false,"rule":"scr_blocked_professionals"}`,
		`{"allowed":false,"rule":"scr_limited"}`,
		`{"allowed":true,"rule":"scr_limited_emergency"}`,
		`{"allowed":false,"rule":"rx_only_gp"}`,
		`FHIR Bundle 9 ['inactive', 'inactive', 'active', 'active', 'active', 'inactive', 'inactive', 'inactive', 'active']`,
		`"code":"sector_token"`,
	},
	"Profile: next of kin, exactly one closest": {
		`"relation":"sibling","closest":true`,
		`"code":"closest_needs_replacement"`,
		`"channel":"email"`,
	},
}

// walkThrough is a ```sh block of the README that uses $API.
type walkThrough struct {
	Heading string // the nearest heading above it, without the #s
	Line    int    // of its opening fence, 1-based
	Script  string
}

var (
	placeholder = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _-]*>`)
	fixedETag   = regexp.MustCompile(`If-Match: *\\?"[0-9]`)
)

// walkThroughs returns the README's walk-through blocks in order: every
// ```sh block that uses $API. Each must start with apiLine and be
// pasteable as written: no <placeholders>, no fixed If-Match versions, no
// hard-coded runner address, no curl output hidden without -f.
func walkThroughs(readme string) ([]walkThrough, error) {
	var (
		out              []walkThrough
		heading          string
		inBlock, isShell bool
		start            int
		lines            []string
	)
	sc := bufio.NewScanner(strings.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inBlock && strings.HasPrefix(line, "```"):
			inBlock, isShell, start, lines = true, strings.TrimSpace(line) == "```sh", n, nil
		case inBlock && strings.TrimSpace(line) == "```":
			inBlock = false
			script := strings.Join(lines, "\n") + "\n"
			if !isShell || !strings.Contains(script, "$API") {
				continue
			}
			w := walkThrough{Heading: heading, Line: start, Script: script}
			if err := w.check(); err != nil {
				return nil, err
			}
			out = append(out, w)
		case inBlock:
			lines = append(lines, line)
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	if inBlock {
		return nil, fmt.Errorf("README.md:%d: code block not closed", start)
	}
	if len(out) == 0 {
		return nil, errors.New("README.md has no ```sh block that uses $API")
	}
	return out, nil
}

func (w walkThrough) check() error {
	where := fmt.Sprintf("README.md:%d (%s)", w.Line, w.Heading)
	first, _, _ := strings.Cut(w.Script, "\n")
	if strings.TrimSpace(strings.SplitN(first, "#", 2)[0]) != apiLine {
		return fmt.Errorf("%s: a block that uses $API starts with %s, got %q", where, apiLine, first)
	}
	for i, line := range strings.Split(w.Script, "\n") {
		code := line
		if i := strings.Index(code, " # "); i >= 0 {
			code = code[:i] // a comment may say anything
		}
		switch {
		case placeholder.MatchString(code):
			return fmt.Errorf("%s, line %d: a placeholder %q: the block must paste without edits", where, i+1, placeholder.FindString(code))
		case fixedETag.MatchString(code):
			return fmt.Errorf("%s, line %d: a fixed If-Match version: capture the ETag from a response", where, i+1)
		case i > 0 && strings.Contains(code, "127.0.0.1:"):
			return fmt.Errorf("%s, line %d: a hard-coded address: use $API", where, i+1)
		case strings.Contains(code, "curl ") && strings.Contains(code, "/dev/null") && !strings.Contains(code, "-sf") && !strings.Contains(code, " -D "):
			return fmt.Errorf("%s, line %d: curl output thrown away without -f hides a failing call", where, i+1)
		}
	}
	return nil
}

func TestWalkThroughs(t *testing.T) {
	const ok = "# H\n```sh\n" + apiLine + "\ncurl -s $API/x\n```\n"
	tests := []struct {
		name    string
		readme  string
		want    []walkThrough
		wantErr string
	}{
		{"one block", ok, []walkThrough{{"H", 2, apiLine + "\ncurl -s $API/x\n"}}, ""},
		{"blocks without $API and other languages are skipped", "# A\n```sh\nmake run\n```\n```json\n{\"a\":\"$API\"}\n```\n" + ok,
			[]walkThrough{{"H", 9, apiLine + "\ncurl -s $API/x\n"}}, ""},
		{"a heading inside a block is not a heading", "# A\n```sh\n" + apiLine + "\n# comment $API\n```\n", []walkThrough{{"A", 2, apiLine + "\n# comment $API\n"}}, ""},
		{"no API line", "# H\n```sh\ncurl $API/x\n```\n", nil, "starts with"},
		{"placeholder", "# H\n```sh\n" + apiLine + "\ncurl $API/x/<id of it>\n```\n", nil, "placeholder"},
		{"placeholder in a comment is fine", "# H\n```sh\n" + apiLine + "\ncurl $API/x # → <id>\n```\n", []walkThrough{{"H", 2, apiLine + "\ncurl $API/x # → <id>\n"}}, ""},
		{"fixed If-Match", "# H\n```sh\n" + apiLine + "\ncurl $API/x -H 'If-Match: \"2\"'\n```\n", nil, "fixed If-Match"},
		{"hard-coded address", "# H\n```sh\n" + apiLine + "\ncurl http://127.0.0.1:3000/x $API\n```\n", nil, "hard-coded"},
		{"hidden failure", "# H\n```sh\n" + apiLine + "\ncurl -s $API/x >/dev/null\n```\n", nil, "without -f"},
		{"unclosed", "# H\n```sh\n" + apiLine + "\n", nil, "not closed"},
		{"none", "# H\n```sh\nmake run\n```\n", nil, "no ```sh block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := walkThroughs(tt.readme)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestReadmeWalkThroughs runs every README block that uses $API, in README
// order, each as its own bash session (a fresh terminal: nothing carries
// over but the runner's state) against one runner with the real functions.
// The only input is API (and so ADDR for make). Each block's output must
// contain its readmeWants, and every problem code it shows must be named in
// the block's text (so a failing call cannot pass unnoticed).
func TestReadmeWalkThroughs(t *testing.T) {
	root, text := readme(t, "bash", "curl", "make", "aws", "python3")
	blocks, err := walkThroughs(text)
	if err != nil {
		t.Fatal(err)
	}
	runner, _ := newRunner(t, testenv.New(t), realTemplate(t), localrun.Registry)
	runner.RetryDelay = time.Second
	api := "API=http://" + serveWithPollers(t, runner)

	seen := map[string]bool{}
	problemCode := regexp.MustCompile(`"code":"([a-z0-9_]+)"`)
	for _, b := range blocks {
		if seen[b.Heading] {
			t.Errorf("README.md:%d: two walk-through blocks under %q; give each its own heading", b.Line, b.Heading)
		}
		seen[b.Heading] = true
		t.Run(b.Heading, func(t *testing.T) {
			wants, ok := readmeWants[b.Heading]
			if !ok {
				t.Fatalf("README.md:%d: no readmeWants entry for %q: add what its output must show", b.Line, b.Heading)
			}
			out, stderr := runSession(t, root, b.Script, api)
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %s\nstdout:\n%s\nstderr:\n%s", want, out, stderr)
				}
			}
			for _, m := range problemCode.FindAllStringSubmatch(out, -1) {
				if !strings.Contains(b.Script, m[1]) {
					t.Errorf("the block got problem %s without saying so (name the code in a comment if it is meant)\nstdout:\n%s", m[1], out)
				}
			}
		})
	}
	for h := range readmeWants {
		if !seen[h] {
			t.Errorf("readmeWants has %q, but the README has no walk-through under that heading", h)
		}
	}
}

// TestReadmeArchitectureNamesEveryFunction: the architecture section names
// every function of the template.
func TestReadmeArchitectureNamesEveryFunction(t *testing.T) {
	_, text := readme(t)
	i := strings.Index(text, "\n## Architecture\n")
	if i < 0 {
		t.Fatal("README.md has no ## Architecture section")
	}
	section := text[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	for _, f := range realTemplate(t).ResourcesOfType("AWS::Serverless::Function") {
		if !strings.Contains(section, "`"+f+"`") {
			t.Errorf("the Architecture section does not name `%s`", f)
		}
	}
}

// TestReadmeLinks: every relative link in README.md and docs/*.md names a
// file of the repository.
func TestReadmeLinks(t *testing.T) {
	root, _ := readme(t)
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, path := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
				t.Errorf("%s links to %s: %v", filepath.Base(path), target, err)
			}
		}
	}
}
