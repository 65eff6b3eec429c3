package apispec_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"

	"privacycore/infra/apispec"
	"privacycore/infra/emulator"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain"
	"privacycore/shared/http/httpapi"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

func load(t *testing.T) *apispec.Spec {
	t.Helper()
	s, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func repoRoot(t *testing.T) string {
	t.Helper()
	p, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(p)
}

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	s := load(t)
	if got, want := s.Doc.OpenAPI, "3.1.0"; got != want || !s.Doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi: got %q, want %q", got, want)
	}
	for _, name := range []string{"citizenJwt", "operatorJwt"} {
		if s.Doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s is missing", name)
		}
	}
}

// TestTemplateRoutesMatchSpec: every HttpApi route of template.yaml is an
// operation of the document with the same scopes, and every operation is a
// route of the template.
func TestTemplateRoutesMatchSpec(t *testing.T) {
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tmpl.Resolve(stack.Names{StackName: "spec", Region: emulator.Region, AccountID: emulator.AccountID})
	if err != nil {
		t.Fatal(err)
	}
	template := map[string][]string{}
	for _, f := range res.Functions {
		for _, r := range f.Routes {
			scopes := slices.Clone(r.Scopes)
			sort.Strings(scopes)
			template[r.Key()] = scopes
			if r.Public {
				t.Errorf("route %s is public (Authorizer: NONE); the document has no unauthenticated operations", r.Key())
			}
		}
	}
	spec := map[string][]string{}
	for _, o := range load(t).Operations() {
		spec[o.Key()] = o.Scopes
	}
	for key, scopes := range template {
		specScopes, ok := spec[key]
		switch {
		case !ok:
			t.Errorf("route %s is in template.yaml but not in %s", key, apispec.File)
		case !slices.Equal(specScopes, scopes):
			t.Errorf("route %s: template scopes %q, %s scopes %q", key, scopes, apispec.File, specScopes)
		}
	}
	for key := range spec {
		if _, ok := template[key]; !ok {
			t.Errorf("operation %s is in %s but not a route of template.yaml", key, apispec.File)
		}
	}
}

// TestFixturesReplay sends every API Gateway HTTP event in events/ to the
// real handler of the function that serves its route (built as the local
// runner builds it, on a fresh copy of the stack), and validates the
// request and the response against the document.
func TestFixturesReplay(t *testing.T) {
	local := testenv.New(t)
	handlers := routeHandlers(t, local)
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "events", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	replayed := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var probe struct {
			Version  string `json:"version"`
			RouteKey string `json:"routeKey"`
		}
		if json.Unmarshal(b, &probe) != nil || probe.Version != "2.0" || probe.RouteKey == "" {
			continue // an SQS or schedule event
		}
		name, _ := filepath.Rel(filepath.Join(repoRoot(t), "events"), file)
		t.Run(name, func(t *testing.T) {
			ev := testenv.HTTPEvent(t, name)
			h, ok := handlers[ev.RouteKey]
			if !ok {
				t.Fatalf("no function in template.yaml serves %s", ev.RouteKey)
			}
			if !strings.HasPrefix(name, "consent"+string(filepath.Separator)) {
				// Most routes need the caller's consent: give it, so the
				// fixture reaches the route's own answer.
				giveConsent(t, handlers["PUT /v1/consent"], ev)
			}
			resp, err := h(context.Background(), ev)
			if err != nil {
				t.Fatalf("handler returned an error: %v", err)
			}
			apispec.Check(t, ev, resp)
		})
		replayed++
	}
	if replayed < 10 {
		t.Errorf("replayed %d API fixtures; events/ has more than that", replayed)
	}
}

// giveConsent gives full consent as the caller of ev (not for operators).
func giveConsent(t *testing.T, h wire.HTTPHandler, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	a := ev.RequestContext.Authorizer
	if a == nil || a.JWT == nil || a.JWT.Claims["pid"] == "" || slices.Contains(a.JWT.Scopes, httpapi.OperatorScope) {
		return
	}
	give := testenv.HTTPEvent(t, "consent/give.json")
	give.RequestContext.Authorizer.JWT.Claims["pid"] = a.JWT.Claims["pid"]
	give.Body = `{"level":"full","patientTravel":true}`
	resp, err := h(context.Background(), give)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("give consent first: %d %v %s", resp.StatusCode, err, resp.Body)
	}
	apispec.Check(t, give, resp)
}

// exchange is a recorded request and response (testdata/*.json).
type exchange struct {
	Request  events.APIGatewayV2HTTPRequest  `json:"request"`
	Response events.APIGatewayV2HTTPResponse `json:"response"`
}

// TestContractViolationsFail shows that the document catches a handler that
// strays from it: each case is a deliberately wrong exchange, from a fixture
// in testdata/ or a real response changed after the fact.
func TestContractViolationsFail(t *testing.T) {
	s := load(t)
	local := testenv.New(t)
	fn, _ := local.Function("ConsentFunction")
	consent, err := wire.ConsentAPI(wire.Env{AWS: local.AWS, Getenv: local.Getenv(fn), Log: io.Discard, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(fixture string) exchange {
		ev := testenv.HTTPEvent(t, fixture)
		resp, err := consent(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return exchange{ev, resp}
	}
	give := answer("consent/give.json")
	if err := s.Validate(give.Request, give.Response); err != nil {
		t.Fatalf("the unchanged exchange must pass: %v", err)
	}
	withBody := func(x exchange, edit func(map[string]any)) exchange {
		var m map[string]any
		if err := json.Unmarshal([]byte(x.Response.Body), &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		x.Response.Body = string(b)
		return x
	}
	tests := []struct {
		name    string
		x       exchange
		wantErr string // a part of the validation error
	}{
		{"fixture: a field the document lacks", fromFile(t, "testdata/extra-field.json"), "personId"},
		{"real response with an added field", withBody(give, func(m map[string]any) { m["personKey"] = strings.Repeat("a", 64) }), "personKey"},
		{"real response without a required field", withBody(give, func(m map[string]any) { delete(m, "version") }), "version"},
		{"real response with a value outside an enum", withBody(give, func(m map[string]any) { m["level"] = "gold" }), "level"},
		{"problem with an undocumented code", func() exchange {
			x := answer("consent/unknown-level.json")
			return withBody(x, func(m map[string]any) { m["code"] = "no_such_code" })
		}(), "code"},
		{"undeclared status", func() exchange { x := give; x.Response.StatusCode = 418; return x }(), "status is not supported"},
		{"missing ETag header", func() exchange {
			x := give
			x.Response.Headers = map[string]string{"Content-Type": "application/json"}
			return x
		}(), "ETag"},
		{"request the document rejects, answered 200", func() exchange {
			x := give
			x.Request.Body = `{"level":"basic","shoeSize":44}`
			return x
		}(), "rejects"},
		{"route the document does not have", func() exchange {
			x := give
			x.Request.RouteKey, x.Request.RawPath, x.Request.RequestContext.HTTP.Path = "PUT /v1/consents", "/v1/consents", "/v1/consents"
			return x
		}(), "not an operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(tt.x.Request, tt.x.Response)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

func fromFile(t *testing.T, name string) exchange {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var x exchange
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return x
}

// reasonPatterns find the reason codes the code base answers with:
// domain.Errorf(domain.EX, "reason", …) and profile's invalid("reason", …)
// (EInvalid).
var reasonPatterns = []*regexp.Regexp{
	regexp.MustCompile(`domain\.Errorf\(domain\.(E[A-Za-z]+),\s*"([a-z0-9_]+)"`),
	regexp.MustCompile(`\binvalid\("([a-z0-9_]+)"`),
}

// TestProblemCodesDocumented: every reason code in the handlers' packages
// is listed in the document's problem response for its status (through the
// one status table, httpapi.StatusOf), so clients can rely on the list.
func TestProblemCodesDocumented(t *testing.T) {
	s := load(t)
	documented := map[int][]string{}
	for _, r := range s.Doc.Components.Responses {
		mt := r.Value.Content.Get("application/problem+json")
		if mt == nil {
			continue
		}
		status, codes := problemCodes(mt.Schema.Value)
		documented[status] = append(documented[status], codes...)
	}
	found := 0
	err := filepath.WalkDir(filepath.Join(repoRoot(t), "shared"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, re := range reasonPatterns {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				code, reason := domain.EInvalid, m[1]
				if i == 0 {
					code, reason = domain.Code(codeValues[m[1]]), m[2]
				}
				if reason == "route_not_found" || reason == "method_not_allowed" {
					continue // the router's own guard; API Gateway answers these
				}
				found++
				status := httpapi.StatusOf(code)
				if !slices.Contains(documented[status], reason) {
					rel, _ := filepath.Rel(repoRoot(t), path)
					t.Errorf("%s: reason %q (status %d) is not among the documented codes for %d in %s", rel, reason, status, status, apispec.File)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 50 {
		t.Errorf("found %d reason codes in shared/; the patterns no longer match the code", found)
	}
}

// codeValues maps the domain constants' names to their values.
var codeValues = map[string]domain.Code{
	"EInvalid": domain.EInvalid, "EUnauthorized": domain.EUnauthorized, "EForbidden": domain.EForbidden,
	"ENotFound": domain.ENotFound, "EConflict": domain.EConflict, "EPreconditionFailed": domain.EPreconditionFailed,
	"ETooLarge": domain.ETooLarge, "EMethodNotAllowed": domain.EMethodNotAllowed, "EUnsupportedMedia": domain.EUnsupportedMedia,
	"EInternal": domain.EInternal, "EUnavailable": domain.EUnavailable,
}

// problemCodes reads the status const and the code enum (or const) of a
// problem response schema: allOf [Problem, {status, code}].
func problemCodes(s *openapi3.Schema) (int, []string) {
	status, codes := 0, []string(nil)
	for _, part := range s.AllOf {
		props := part.Value.Properties
		if st := props["status"]; st != nil {
			if v, ok := st.Value.Const.(float64); ok {
				status = int(v)
			}
		}
		if c := props["code"]; c != nil {
			for _, v := range c.Value.Enum {
				codes = append(codes, v.(string))
			}
			if v, ok := c.Value.Const.(string); ok {
				codes = append(codes, v)
			}
		}
	}
	return status, codes
}
