package localrun_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"privacycore/infra/localrun"
	"privacycore/infra/testenv"
)

const (
	tryItHeading = "## Try it (against `make run`)"
	tryItAPILine = "API=http://127.0.0.1:3000"
)

// tryItBlock returns the first ```sh block in the README's "Try it"
// section (before the next "## " heading).
func tryItBlock(readme string) (string, error) {
	var (
		inSection, inBlock bool
		block              []string
	)
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBlock && strings.TrimSpace(line) == "```":
			return strings.Join(block, "\n") + "\n", nil
		case inBlock:
			block = append(block, line)
		case line == tryItHeading:
			inSection = true
		case inSection && strings.HasPrefix(line, "## "):
			return "", errors.New("no ```sh block in the section " + tryItHeading)
		case inSection && strings.TrimSpace(line) == "```sh":
			inBlock = true
		}
	}
	switch {
	case inBlock:
		return "", errors.New("the ```sh block under " + tryItHeading + " is not closed")
	case inSection:
		return "", errors.New("no ```sh block in the section " + tryItHeading)
	}
	return "", errors.New("no heading " + tryItHeading)
}

func TestTryItBlock(t *testing.T) {
	tests := []struct {
		name    string
		readme  string
		want    string
		wantErr string
	}{
		{"first sh block of the section", "# X\n```sh\nno\n```\n" + tryItHeading + "\ntext\n```sh\na\nb\n```\n```sh\nc\n```\n", "a\nb\n", ""},
		{"no heading", "# X\n```sh\na\n```\n", "", "no heading"},
		{"block in a later section", tryItHeading + "\ntext\n## Next\n```sh\na\n```\n", "", "no ```sh block"},
		{"unclosed", tryItHeading + "\n```sh\na\n", "", "not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tryItBlock(tt.readme)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestReadmeTryIt runs the README's "Try it" session as written against a
// runner on a free loopback port; the API line is the only substitution.
func TestReadmeTryIt(t *testing.T) {
	root, text := readme(t, "bash", "curl", "make")
	block, err := tryItBlock(text)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	runner, _ := newRunner(t, testenv.New(t), realTemplate(t), localrun.Registry)
	addr := serveWithPollers(t, runner)

	lines := strings.Split(block, "\n")
	replaced := 0
	for i, line := range lines {
		if line == tryItAPILine {
			lines[i] = "API=http://" + addr
			replaced++
		}
	}
	if replaced != 1 {
		t.Fatalf("README Try it block: got %d lines %q, want exactly 1:\n%s", replaced, tryItAPILine, block)
	}
	out, stderr := runSession(t, root, strings.Join(lines, "\n"))
	ans, err := splitTryItOutput(out)
	if err != nil {
		t.Fatalf("output is not the five answers (PUT, GET -i, PUT, history, DELETE): %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}

	var put1, get, put2 struct {
		Status        string `json:"status"`
		Level         string `json:"level"`
		PatientTravel bool   `json:"patientTravel"`
		Version       int    `json:"version"`
	}
	var history struct {
		Items []struct {
			Action        string `json:"action"`
			Level         string `json:"level"`
			PatientTravel bool   `json:"patientTravel"`
			Version       int    `json:"version"`
		} `json:"items"`
	}
	var receipt struct {
		ID      string         `json:"id"`
		Reason  string         `json:"reason"`
		Status  string         `json:"status"`
		Deleted map[string]int `json:"deleted"`
	}
	for i, v := range []any{&put1, &get, &put2, &history, &receipt} {
		if err := json.Unmarshal(ans.bodies[i], v); err != nil {
			t.Fatalf("answer %d %q: %v", i+1, ans.bodies[i], err)
		}
	}
	type change struct {
		Level         string
		PatientTravel bool
		Version       int
	}
	var gotHistory []change
	for _, it := range history.Items {
		gotHistory = append(gotHistory, change{it.Level, it.PatientTravel, it.Version})
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"PUT basic: status", put1.Status, "active"},
		{"PUT basic: level", put1.Level, "basic"},
		{"PUT basic: version", put1.Version, 1},
		{"GET -i: HTTP status", ans.getStatus, 200},
		{"GET -i: ETag header", ans.getHeader.Get("ETag"), `"1"`},
		{"GET -i: level", get.Level, "basic"},
		{"PUT full: level", put2.Level, "full"},
		{"PUT full: patientTravel", put2.PatientTravel, true},
		{"PUT full: version", put2.Version, 2},
		{"history: both changes, newest first", gotHistory, []change{{"full", true, 2}, {"basic", false, 1}}},
		{"DELETE: receipt reason", receipt.Reason, "consent_withdrawn"},
		{"DELETE: receipt status", receipt.Status, "done"},
		{"DELETE: receipt has an id", receipt.ID != "", true},
		{"DELETE: receipt counts deletions", receipt.Deleted != nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v\nstdout:\n%s", tt.got, tt.want, out)
			}
		})
	}
}

// tryItAnswers is the session's output taken apart: curl -s prints the
// bodies back to back, and the GET with -i adds its status and headers.
type tryItAnswers struct {
	bodies    [5]json.RawMessage // PUT, GET, PUT, history, DELETE
	getStatus int
	getHeader http.Header
}

func splitTryItOutput(out string) (tryItAnswers, error) {
	var a tryItAnswers
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&a.bodies[0]); err != nil {
		return a, fmt.Errorf("first PUT: %w", err)
	}
	br := bufio.NewReader(strings.NewReader(out[dec.InputOffset():]))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return a, fmt.Errorf("GET -i: %w", err)
	}
	get, err := io.ReadAll(resp.Body)
	if err != nil {
		return a, fmt.Errorf("GET -i body: %w", err)
	}
	a.bodies[1], a.getStatus, a.getHeader = get, resp.StatusCode, resp.Header
	rest, _ := io.ReadAll(br)
	dec = json.NewDecoder(bytes.NewReader(rest))
	for i := 2; i < len(a.bodies); i++ {
		if err := dec.Decode(&a.bodies[i]); err != nil {
			return a, fmt.Errorf("answer %d: %w", i+1, err)
		}
	}
	if extra, _ := io.ReadAll(io.MultiReader(dec.Buffered(), bytes.NewReader(rest[dec.InputOffset():]))); len(bytes.TrimSpace(extra)) > 0 {
		return a, fmt.Errorf("unexpected output after the DELETE answer: %q", extra)
	}
	return a, nil
}

func TestSplitTryItOutput(t *testing.T) {
	const get = "HTTP/1.1 200 OK\r\nEtag: \"1\"\r\nContent-Length: 8\r\n\r\n{\"g\":1}\n"
	tests := []struct {
		name       string
		out        string
		wantBodies []string
		wantETag   string
		wantErr    string
	}{
		{"five answers", `{"a":1}` + get + `{"c":3}{"d":4}{"e":5}`, []string{`{"a":1}`, "{\"g\":1}\n", `{"c":3}`, `{"d":4}`, `{"e":5}`}, `"1"`, ""},
		{"GET without -i", `{"a":1}{"g":1}{"c":3}{"d":4}{"e":5}`, nil, "", "GET -i"},
		{"an answer missing", `{"a":1}` + get + `{"c":3}{"d":4}`, nil, "", "answer 5"},
		{"trailing output", `{"a":1}` + get + `{"c":3}{"d":4}{"e":5}oops`, nil, "", "unexpected output"},
		{"empty", "", nil, "", "first PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := splitTryItOutput(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.wantBodies {
				if got := string(a.bodies[i]); got != want {
					t.Errorf("bodies[%d]: got %q, want %q", i, got, want)
				}
			}
			if got := a.getHeader.Get("ETag"); got != tt.wantETag {
				t.Errorf("ETag: got %q, want %q", got, tt.wantETag)
			}
		})
	}
}
