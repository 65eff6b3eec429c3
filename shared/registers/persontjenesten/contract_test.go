package persontjenesten_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"privacycore/infra/fakenhn"
	"privacycore/infra/stack"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/registerfeed"
	"privacycore/shared/platform/helseid"
	"privacycore/shared/registers/persontjenesten"
)

// exchange is one request the client sent and the answer it got.
type exchange struct {
	req      *http.Request
	reqBody  []byte
	resp     *http.Response
	respBody []byte
}

// recorder is an http.RoundTripper that keeps every exchange.
type recorder struct {
	mu  sync.Mutex
	all []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	r.mu.Lock()
	r.all = append(r.all, exchange{req: req.Clone(context.Background()), reqBody: body, resp: resp, respBody: rb})
	r.mu.Unlock()
	return resp, nil
}

// loadSpec loads an OpenAPI file with its servers replaced by base.
func loadSpec(t *testing.T, path, base string) routers.Router {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router for %s: %v", path, err)
	}
	return r
}

// TestContract drives the client against the fake through every call the
// core makes and checks each request and each answer against Norsk
// helsenett's published description (../shared/reference, beside the
// repository) and against the project's own smaller one. The reference's
// schemas forbid members they do not name (additionalProperties: false), so
// an unknown field in an answer fails; the test also fails on a query
// parameter or form field the operation does not declare.
func TestContract(t *testing.T) {
	tmpl, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(tmpl)
	reference := filepath.Join(root, "..", "shared", "reference", "persontjenesten-openapi.yaml")
	own := filepath.Join(root, "infra", "persontjenesten.yaml")

	priv, pub, err := fakenhn.NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fakenhn.Listen(fakenhn.ClientID, pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	key, _ := helseid.ParseKey(priv)
	hc, err := helseid.New(helseid.Config{TokenURL: f.TokenURL(), ClientID: fakenhn.ClientID, Scope: fakenhn.Scope, Audience: f.URL}, key)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	hc.HTTP = &http.Client{Transport: rec}
	c := persontjenesten.New(f.URL, hc)
	ctx := context.Background()

	// An empty register first: latest is 404.
	if n, err := c.Latest(ctx); err != nil || n != 0 {
		t.Fatalf("Latest on an empty register = %d, %v", n, err)
	}
	const ola, kari, barn, newID = "01879000099", "14838500073", "05851250095", "14838500154"
	for _, ch := range []fakenhn.Change{
		{Type: fakenhn.ChangeDeath, PID: ola},
		{Type: fakenhn.ChangeDeathAnnulled, PID: ola},
		{Type: fakenhn.ChangeParentSet, Parent: kari, Child: barn},
		{Type: fakenhn.ChangeParentEnded, Parent: kari, Child: barn},
		{Type: fakenhn.ChangeParentSet, Parent: ola, Child: barn},
		{Type: fakenhn.ChangeIDChange, PID: kari, NewPID: newID},
		{Type: fakenhn.ChangeDiscontinued, PID: barn},
		{Type: fakenhn.ChangeContact, PID: ola, Email: "ola@example.invalid", Phone: "+4799999999"},
		{Type: fakenhn.ChangeUnrelatedEvent, PID: ola},
		{Type: fakenhn.ChangeDeath, PID: kari},
	} {
		if _, err := f.Register.Apply(ch); err != nil {
			t.Fatalf("%+v: %v", ch, err)
		}
	}
	evs, err := c.Events(ctx, 1, registerfeed.EventTypes)
	if err != nil || len(evs) != 8 {
		t.Fatalf("Events = %d events, %v; want the 8 of the types asked for", len(evs), err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.PersonID)
	}
	persons, err := c.Persons(ctx, ids, registerfeed.FeedParts, true)
	if err != nil || len(persons) != 3 {
		t.Fatalf("Persons = %d, %v; want 3", len(persons), err)
	}
	if _, err := c.Latest(ctx); err != nil {
		t.Fatal(err)
	}
	id := func(s string) nin.ID { v, _ := nin.Parse(s); return v }
	st := persontjenesten.Standing{Client: c}
	for pid, want := range map[string]consent.Standing{ola: consent.StandingAlive, newID: consent.StandingDeceased, barn: consent.StandingDiscontinued} {
		if got, err := st.Lookup(ctx, id(pid)); err != nil || got.Standing != want {
			t.Errorf("Lookup = %+v, %v; want %q", got, err, want)
		}
	}
	// Ola is responsible for the child: his document says so, from his side.
	if got, err := st.Lookup(ctx, id(ola)); err != nil || len(got.Children) != 1 || got.Children[0].ID != id(barn) {
		t.Errorf("Lookup(parent) children = %+v, %v; want the child", got.Children, err)
	}
	cd, err := persontjenesten.Contacts{Client: c}.Contact(ctx, id(ola))
	if err != nil || cd.Email != "ola@example.invalid" || cd.Phone != "+4799999999" {
		t.Errorf("Contact = %+v, %v", cd, err)
	}
	f.Register.Strict = true
	if got, err := st.Lookup(ctx, nin.ForTest(nin.Date{Year: 1990, Month: 5, Day: 17}, true)); err != nil || got.Standing != consent.StandingNotFound {
		t.Errorf("Standing of an unknown id = %q, %v; want not_found", got, err)
	}
	f.Register.Throttle(http.StatusTooManyRequests, "0", 1)
	if _, err := c.Latest(ctx); err != nil {
		t.Errorf("Latest after one 429: %v", err)
	}

	refRouter, ownRouter := loadSpec(t, reference, f.URL), loadSpec(t, own, f.URL)
	checked := map[string]int{}
	for _, x := range rec.all {
		if x.req.URL.Path == fakenhn.TokenPath {
			continue // HelseID, not Persontjenesten
		}
		for name, router := range map[string]routers.Router{"reference": refRouter, "own": ownRouter} {
			route, params, err := router.FindRoute(x.req)
			if err != nil {
				t.Errorf("%s: %s %s: no such operation: %v", name, x.req.Method, x.req.URL.Path, err)
				continue
			}
			checkUnknown(t, name, x, route)
			req := x.req.Clone(context.Background())
			req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: dpopOnly}}
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s: request %s %s: %v", name, x.req.Method, x.req.URL.Path, err)
			}
			if x.resp.StatusCode == http.StatusTooManyRequests {
				continue // described in ours only as a status; Retry-After is what matters
			}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.resp.StatusCode,
				Header: x.resp.Header, Body: io.NopCloser(bytes.NewReader(x.respBody)),
				Options: &openapi3filter.Options{IncludeResponseStatus: true}}
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Errorf("%s: response %d to %s %s: %v\n%.400s", name, x.resp.StatusCode, x.req.Method, x.req.URL.Path, err, x.respBody)
			}
		}
		checked[x.req.Method+" "+x.req.URL.Path+" "+x.resp.Status]++
	}
	for _, want := range []string{
		"GET /api/legal-basis/event 200 OK", "GET /api/legal-basis/event/latest 200 OK", "GET /api/legal-basis/event/latest 404 Not Found",
		"POST /api/legal-basis/person/bulk-by-id 200 OK", "POST /api/legal-basis/person/get-by-nin 200 OK",
		"POST /api/legal-basis/person/get-by-nin 404 Not Found",
	} {
		if checked[want] == 0 {
			t.Errorf("no exchange %q was checked (have %v)", want, checked)
		}
	}
}

// dpopOnly accepts the security requirement when the request carries a
// DPoP-bound token: the reference calls the scheme bearer; HelseID binds it.
func dpopOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	if !strings.HasPrefix(h.Get("Authorization"), "DPoP ") || h.Get("DPoP") == "" {
		return errors.New("no DPoP-bound token")
	}
	return nil
}

// checkUnknown fails on a query parameter or form field the operation does not declare.
func checkUnknown(t *testing.T, spec string, x exchange, route *routers.Route) {
	t.Helper()
	declared := map[string]bool{}
	for _, p := range route.Operation.Parameters {
		if p.Value.In == "query" {
			declared[p.Value.Name] = true
		}
	}
	for name := range x.req.URL.Query() {
		if !declared[name] {
			t.Errorf("%s: %s %s sends undeclared query parameter %q", spec, x.req.Method, x.req.URL.Path, name)
		}
	}
	if len(x.reqBody) == 0 {
		return
	}
	form, err := url.ParseQuery(string(x.reqBody))
	if err != nil {
		t.Errorf("%s: form body does not parse: %v", spec, err)
		return
	}
	props := route.Operation.RequestBody.Value.Content.Get("application/x-www-form-urlencoded").Schema.Value.Properties
	for name := range form {
		if _, ok := props[name]; !ok {
			t.Errorf("%s: %s %s sends undeclared form field %q", spec, x.req.Method, x.req.URL.Path, name)
		}
	}
}
