package apispec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/go-json-experiment/json/jsontext"

	"privacycore/infra/apispec"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/wire"
)

// routeHandlers builds every HTTP function of the template as the local
// runner does, by route key.
func routeHandlers(t *testing.T, local *stack.Local) map[string]wire.HTTPHandler {
	t.Helper()
	handlers := map[string]wire.HTTPHandler{}
	for _, f := range local.Resolved.Functions {
		if len(f.Routes) == 0 {
			continue
		}
		h, err := localrun.Registry[f.LogicalID](wire.Env{AWS: local.AWS, Getenv: local.Getenv(f), Log: io.Discard, Now: time.Now})
		if err != nil {
			t.Fatalf("build %s: %v", f.LogicalID, err)
		}
		for _, r := range f.Routes {
			handlers[r.Key()] = h.(wire.HTTPHandler)
		}
	}
	return handlers
}

// TestStrictJSONOnEveryRoute takes, for every operation of the document
// that has a request body, a fixture of events/ for it and sends it with
// the body made ambiguous or mis-encoded: a duplicate name, a name in
// another case, invalid UTF-8 in a name and in a value, and a literal null.
// Each must answer 400 with its documented code, and the table must not
// change. A route added later without a body fixture fails here.
func TestStrictJSONOnEveryRoute(t *testing.T) {
	spec := load(t)
	local := testenv.New(t)
	handlers := routeHandlers(t, local)
	fixtures := bodyFixtures(t)
	routes := 0
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			key := method + " " + path
			routes++
			t.Run(key, func(t *testing.T) {
				name, ok := fixtures[key]
				if !ok {
					t.Fatalf("no fixture in events/ sends a body to %s", key)
				}
				ev := testenv.HTTPEvent(t, name)
				giveConsent(t, handlers["PUT /v1/consent"], ev)
				before := tableItems(t, local)
				for _, m := range strictJSONCases(t, ev.Body) {
					bad := ev
					bad.Body = m.body
					resp, err := handlers[key](context.Background(), bad)
					if err != nil {
						t.Fatalf("%s: handler error %v", m.name, err)
					}
					var p struct {
						Code string `json:"code"`
					}
					_ = json.Unmarshal([]byte(resp.Body), &p)
					if resp.StatusCode != 400 || p.Code != m.code {
						t.Errorf("%s (%s %q): got %d %s, want 400 %s", m.name, name, m.body, resp.StatusCode, resp.Body, m.code)
					}
					apispec.Check(t, bad, resp)
				}
				if after := tableItems(t, local); !slices.Equal(before, after) {
					t.Errorf("refused bodies changed the table:\n before %q\n after  %q", before, after)
				}
			})
		}
	}
	if routes < 10 {
		t.Errorf("found %d operations with a request body; the document has more", routes)
	}
}

type strictCase struct{ name, body, code string }

// strictJSONCases derives the refused bodies from a valid one.
func strictJSONCases(t *testing.T, valid string) []strictCase {
	t.Helper()
	type member struct{ name, raw string }
	dec := jsontext.NewDecoder(strings.NewReader(valid))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		t.Fatalf("fixture body %q is not an object", valid)
	}
	var ms []member
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			t.Fatal(err)
		}
		name := tok.String() // before the next read voids tok
		raw, err := dec.ReadValue()
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{name, string(raw)})
	}
	if len(ms) == 0 {
		t.Fatalf("fixture body %q has no members", valid)
	}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	build := func(ms []member) string {
		parts := make([]string, len(ms))
		for i, m := range ms {
			parts[i] = quote(m.name) + ":" + m.raw
			if strings.ContainsRune(m.name, 0xFFFD) { // raw bytes, not escaped by Marshal
				parts[i] = `"` + strings.ReplaceAll(m.name, "\uFFFD", "\xff") + `":` + m.raw
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	with := func(i int, m member) []member {
		c := slices.Clone(ms)
		c[i] = m
		return c
	}
	cases := []strictCase{
		{"duplicate name", build(append([]member{ms[0]}, ms...)), "duplicate_field"},
		{"name in upper case", build(with(0, member{strings.ToUpper(ms[0].name), ms[0].raw})), "unknown_field"},
		{"invalid UTF-8 in a name", build(with(0, member{ms[0].name + "\uFFFD", ms[0].raw})), "invalid_utf8"},
		{"null body", "null", "malformed_json"},
	}
	for i, m := range ms {
		if strings.HasPrefix(m.raw, `"`) {
			cases = append(cases, strictCase{"invalid UTF-8 in a value", build(with(i, member{m.name, "\"a\xffb\""})), "invalid_utf8"})
			break
		}
	}
	return cases
}

// bodyFixtures maps route keys to the first fixture (by name) that sends a body.
func bodyFixtures(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "events", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	out := map[string]string{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var probe struct {
			Version  string `json:"version"`
			RouteKey string `json:"routeKey"`
			Body     string `json:"body"`
		}
		if json.Unmarshal(b, &probe) != nil || probe.Version != "2.0" || !json.Valid([]byte(probe.Body)) || !bytes.HasPrefix(bytes.TrimSpace([]byte(probe.Body)), []byte("{")) {
			continue
		}
		if _, ok := out[probe.RouteKey]; !ok {
			out[probe.RouteKey], _ = filepath.Rel(filepath.Join(repoRoot(t), "events"), file)
		}
	}
	return out
}

// tableItems lists every item of the stack's table (a test may Scan).
func tableItems(t *testing.T, l *stack.Local) []string {
	t.Helper()
	var items []string
	p := dynamodb.NewScanPaginator(l.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(l.Table("PrivacyTable")), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(m)
			items = append(items, string(b))
		}
	}
	sort.Strings(items)
	return items
}
