package localrun_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/infra/apispec"
	"privacycore/infra/devjwt"
	"privacycore/infra/emulator"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// testPID is a synthetic person id (month + 80), the one the README uses.
const testPID = "14838500073"

var discard = slog.New(slog.DiscardHandler)

// newRunner builds a Runner over local with reg, verifying tokens for the
// template's issuer and audience (parameter defaults, as `make run` does).
func newRunner(t *testing.T, local *stack.Local, tmpl *stack.Template, reg map[string]localrun.Builder) (*localrun.Runner, devjwt.Verifier) {
	t.Helper()
	v := devjwt.Verifier{Issuer: tmpl.Param("JwtIssuer", nil), Audience: tmpl.Param("JwtAudience", nil), Now: time.Now}
	if v.Issuer == "" || v.Audience == "" {
		t.Fatalf("template has no JwtIssuer/JwtAudience defaults: got %q, %q", v.Issuer, v.Audience)
	}
	r, err := localrun.New(local, reg, v, io.Discard, discard, localrun.NewClock(nil))
	if err != nil {
		t.Fatalf("localrun.New: %v", err)
	}
	if f, ok := testenv.LookupNHN(local); ok {
		r.Register = f.Register // make register-event works against it
	}
	if _, ok := reg["ConsentFunction"]; ok {
		// The real functions: every request the test makes is held to the API contract.
		r.OnExchange = func(ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
			apispec.Check(t, ev, resp)
		}
	}
	return r, v
}

// realTemplate loads template.yaml.
func realTemplate(t *testing.T) *stack.Template {
	t.Helper()
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// serve starts an httptest server (127.0.0.1) for h, closed when the test ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func mint(t *testing.T, v devjwt.Verifier, pid string, scopes ...string) string {
	t.Helper()
	tok, err := devjwt.Mint(v.Issuer, v.Audience, pid, scopes, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signHS256 signs arbitrary claims, for tokens devjwt.Mint will not make.
func signHS256(t *testing.T, key []byte, header, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
}

type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func do(t *testing.T, method, url string, header http.Header, body []byte) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestAuthorizerAndRouting drives the real ConsentFunction through the runner.
func TestAuthorizerAndRouting(t *testing.T) {
	tmpl := realTemplate(t)
	runner, v := newRunner(t, testenv.New(t), tmpl, localrun.Registry)
	srv := serve(t, runner)

	now := time.Now()
	valid := mint(t, v, testPID)
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"pid": testPID, "iss": v.Issuer, "aud": []string{v.Audience},
			"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		edit(c)
		return c
	}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	expired, err := devjwt.Mint(v.Issuer, v.Audience, testPID, nil, now.Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wrongIssuer, err := devjwt.Mint("https://evil.example", v.Audience, testPID, nil, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wrongAudience, err := devjwt.Mint(v.Issuer, "someone-else", testPID, nil, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := signHS256(t, []byte("a-different-key-of-the-same-length-0123456789abc"), hs256, claims(func(map[string]any) {}))
	noExp := signHS256(t, devjwt.Key, hs256, claims(func(c map[string]any) { delete(c, "exp") }))
	notYet := signHS256(t, devjwt.Key, hs256, claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }))
	// An unsigned token: header.payload. with an empty signature.
	algNone := signHS256(t, nil, map[string]any{"alg": "none", "typ": "JWT"}, claims(func(map[string]any) {}))
	algNone = algNone[:strings.LastIndex(algNone, ".")+1]

	unauthorized := map[string]string{"WWW-Authenticate": "Bearer"}
	tests := []struct {
		name        string
		method      string
		path        string
		header      http.Header
		body        []byte
		wantStatus  int
		wantCode    string            // problem code; "" for a success
		wantHeaders map[string]string // exact values
	}{
		{"no Authorization header", "GET", "/v1/consent", nil, nil, 401, "unauthorized", unauthorized},
		{"Bearer without a token", "GET", "/v1/consent", http.Header{"Authorization": {"Bearer"}}, nil, 401, "unauthorized", unauthorized},
		{"Bearer with garbage", "GET", "/v1/consent", bearer("garbage.not.ajwt"), nil, 401, "unauthorized", unauthorized},
		{"Basic scheme with a valid token", "GET", "/v1/consent", http.Header{"Authorization": {"Basic " + valid}}, nil, 401, "unauthorized", unauthorized},
		{"signed with a different key", "GET", "/v1/consent", bearer(otherKey), nil, 401, "unauthorized", unauthorized},
		{"alg none", "GET", "/v1/consent", bearer(algNone), nil, 401, "unauthorized", unauthorized},
		{"expired", "GET", "/v1/consent", bearer(expired), nil, 401, "unauthorized", unauthorized},
		{"no expiry", "GET", "/v1/consent", bearer(noExp), nil, 401, "unauthorized", unauthorized},
		{"not yet valid", "GET", "/v1/consent", bearer(notYet), nil, 401, "unauthorized", unauthorized},
		{"wrong issuer", "GET", "/v1/consent", bearer(wrongIssuer), nil, 401, "unauthorized", unauthorized},
		{"wrong audience", "GET", "/v1/consent", bearer(wrongAudience), nil, 401, "unauthorized", unauthorized},
		{"valid token", "GET", "/v1/consent", bearer(valid), nil, 200, "", map[string]string{"Content-Type": "application/json"}},
		{"valid token, history", "GET", "/v1/consent/history", bearer(valid), nil, 200, "", nil},
		{"method not allowed", "POST", "/v1/consent", bearer(valid), nil, 405, "method_not_allowed", map[string]string{"Allow": "DELETE, GET, PUT"}},
		{"method not allowed, no token", "PATCH", "/v1/consent", nil, nil, 405, "method_not_allowed", map[string]string{"Allow": "DELETE, GET, PUT"}},
		{"unknown path", "GET", "/nope", bearer(valid), nil, 404, "route_not_found", nil},
		{"trailing slash is another path", "GET", "/v1/consent/", bearer(valid), nil, 404, "route_not_found", nil},
		{"body over 10 MiB", "PUT", "/v1/consent", http.Header{"Authorization": {"Bearer " + valid}, "Content-Type": {"application/json"}},
			bytes.Repeat([]byte("a"), 10<<20+1), 413, "body_too_large", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, srv.URL+tt.path, tt.header, tt.body)
			if r.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %.300q)", r.Status, tt.wantStatus, r.Body)
			}
			for k, want := range tt.wantHeaders {
				if got := r.Header.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if tt.wantCode == "" {
				if got := r.Header.Get("Apigw-Requestid"); !strings.HasPrefix(got, "local-") {
					t.Errorf("Apigw-Requestid: got %q, want a local request id", got)
				}
				return
			}
			if got, want := r.Header.Get("Content-Type"), "application/problem+json"; got != want {
				t.Errorf("Content-Type: got %q, want %q", got, want)
			}
			var p problemBody
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatalf("problem body %q: %v", r.Body, err)
			}
			if p.Code != tt.wantCode || p.Status != tt.wantStatus || p.Title != http.StatusText(tt.wantStatus) || !strings.HasSuffix(p.Type, "/"+tt.wantCode) {
				t.Errorf("problem: got %+v, want code %q, status %d, title %q", p, tt.wantCode, tt.wantStatus, http.StatusText(tt.wantStatus))
			}
		})
	}

	t.Run("valid token reaches the handler", func(t *testing.T) {
		r := do(t, "GET", srv.URL+"/v1/consent", bearer(valid), nil)
		var body struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("body %q: %v", r.Body, err)
		}
		if r.Status != 200 || body.Status != "none" {
			t.Errorf("got %d %q, want 200 with status %q", r.Status, r.Body, "none")
		}
	})
}

// echoTemplate declares one function with routes of every kind the runner
// distinguishes: a path parameter, a scoped route, a public route.
const echoTemplate = `
Parameters:
  JwtIssuer:
    Type: String
    Default: https://issuer.example
  JwtAudience:
    Type: String
    Default: echo-audience
Globals:
  Function:
    Environment:
      Variables:
        GREETING: hei
        TABLE_NAME: !Ref Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        GetThing:
          Type: HttpApi
          Properties: {Method: GET, Path: "/v1/things/{id}"}
        PostThings:
          Type: HttpApi
          Properties: {Method: POST, Path: /v1/things}
        PutForm:
          Type: HttpApi
          Properties:
            Method: PUT
            Path: /v1/forms
            Auth:
              AuthorizationScopes: [forms:write]
        Health:
          Type: HttpApi
          Properties:
            Method: GET
            Path: /health
            Auth:
              Authorizer: NONE
`

// echo is a fake function that records the events it receives.
type echo struct {
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
	env    map[string]string
}

func (e *echo) build(env wire.Env) (wire.HTTPHandler, error) {
	e.env = map[string]string{"GREETING": env.Getenv("GREETING"), "TABLE_NAME": env.Getenv("TABLE_NAME"), "AWS_ENDPOINT_URL": env.Getenv("AWS_ENDPOINT_URL")}
	return func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
		return events.APIGatewayV2HTTPResponse{
			StatusCode:        201,
			Headers:           map[string]string{"Content-Type": "application/octet-stream"},
			MultiValueHeaders: map[string][]string{"X-Echo": {"one", "two"}},
			Cookies:           []string{"seen=1; Path=/"},
			Body:              base64.StdEncoding.EncodeToString([]byte("\x00echo\xff")),
			IsBase64Encoded:   true,
		}, nil
	}, nil
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events)
}

func (e *echo) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.events) == 0 {
		t.Fatal("the handler received no event")
	}
	return e.events[len(e.events)-1]
}

// newEcho provisions echoTemplate on the shared emulator and serves it with
// the echo function as its only registry entry.
func newEcho(t *testing.T) (*echo, *httptest.Server, devjwt.Verifier, *stack.Local) {
	t.Helper()
	tmpl, err := stack.Parse([]byte(echoTemplate))
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	local, err := stack.Up(ctx, tmpl, emulator.Shared(t), "e"+hex.EncodeToString(b[:]), nil)
	if err != nil {
		t.Fatalf("stack.Up: %v", err)
	}
	t.Cleanup(func() {
		if err := local.Down(context.Background()); err != nil {
			t.Logf("teardown: %v", err)
		}
	})
	e := &echo{}
	runner, v := newRunner(t, local, tmpl, map[string]localrun.Builder{"EchoFunction": localrun.HTTP(e.build)})
	return e, serve(t, runner), v, local
}

func TestEventForHandler(t *testing.T) {
	e, srv, v, local := newEcho(t)
	tok := mint(t, v, testPID, "forms:read", "profile")
	binary := []byte{0x00, 0x01, 0xfe, 0xff, '{'}

	t.Run("environment from the template", func(t *testing.T) {
		want := map[string]string{"GREETING": "hei", "TABLE_NAME": local.Table("Table"), "AWS_ENDPOINT_URL": local.Server.Endpoint}
		if !reflect.DeepEqual(e.env, want) {
			t.Errorf("got %v, want %v", e.env, want)
		}
	})

	tests := []struct {
		name           string
		method, target string
		header         http.Header
		body           []byte
		wantRouteKey   string
		wantRawPath    string
		wantRawQuery   string
		wantQuery      map[string]string
		wantPathParams map[string]string
		wantHeaders    map[string]string // lower-case name → value, must be present
		wantCookies    []string
		wantBody       string
		wantBase64     bool
		wantAuthorized bool
	}{
		{
			name: "path parameter, query, headers and cookies", method: "GET", target: "/v1/things/abc-123?b=x&a=1&a=2&empty=",
			header: http.Header{
				"Authorization": {"Bearer " + tok}, "X-Custom-Header": {"v"}, "X-Multi": {"one", "two"},
				"Cookie": {"c1=v1; c2=v2"},
			},
			wantRouteKey: "GET /v1/things/{id}", wantRawPath: "/v1/things/abc-123", wantRawQuery: "b=x&a=1&a=2&empty=",
			wantQuery:      map[string]string{"a": "1,2", "b": "x", "empty": ""},
			wantPathParams: map[string]string{"id": "abc-123"},
			wantHeaders:    map[string]string{"x-custom-header": "v", "x-multi": "one,two", "authorization": "Bearer " + tok},
			wantCookies:    []string{"c1=v1", "c2=v2"},
			wantAuthorized: true,
		},
		{
			name: "JSON body passed as is", method: "POST", target: "/v1/things",
			header:       http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json; charset=utf-8"}},
			body:         []byte(`{"level":"basic","n":1}`),
			wantRouteKey: "POST /v1/things", wantRawPath: "/v1/things",
			wantHeaders: map[string]string{"content-type": "application/json; charset=utf-8", "content-length": "23"},
			wantBody:    `{"level":"basic","n":1}`, wantAuthorized: true,
		},
		{
			name: "binary body base64-encoded", method: "POST", target: "/v1/things",
			header:       http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/octet-stream"}},
			body:         binary,
			wantRouteKey: "POST /v1/things", wantRawPath: "/v1/things",
			wantBody: base64.StdEncoding.EncodeToString(binary), wantBase64: true, wantAuthorized: true,
		},
		{
			name: "public route without a token", method: "GET", target: "/health",
			wantRouteKey: "GET /health", wantRawPath: "/health",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.count()
			r := do(t, tt.method, srv.URL+tt.target, tt.header, tt.body)
			if r.Status != 201 {
				t.Fatalf("status: got %d, want 201 from the handler (body %.300q)", r.Status, r.Body)
			}
			if got := e.count(); got != before+1 {
				t.Fatalf("handler calls: got %d, want %d", got, before+1)
			}
			ev := e.last(t)
			checks := []struct {
				name      string
				got, want any
			}{
				{"version", ev.Version, "2.0"},
				{"routeKey", ev.RouteKey, tt.wantRouteKey},
				{"requestContext.routeKey", ev.RequestContext.RouteKey, tt.wantRouteKey},
				{"rawPath", ev.RawPath, tt.wantRawPath},
				{"rawQueryString", ev.RawQueryString, tt.wantRawQuery},
				{"queryStringParameters", ev.QueryStringParameters, tt.wantQuery},
				{"pathParameters", ev.PathParameters, tt.wantPathParams},
				{"cookies", ev.Cookies, tt.wantCookies},
				{"body", ev.Body, tt.wantBody},
				{"isBase64Encoded", ev.IsBase64Encoded, tt.wantBase64},
				{"requestContext.http.method", ev.RequestContext.HTTP.Method, tt.method},
				{"requestContext.http.path", ev.RequestContext.HTTP.Path, tt.wantRawPath},
				{"requestContext.http.sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
				{"requestContext.stage", ev.RequestContext.Stage, "$default"},
				{"requestContext.requestId = Apigw-Requestid", ev.RequestContext.RequestID, r.Header.Get("Apigw-Requestid")},
			}
			for _, c := range checks {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
				}
			}
			if !strings.HasPrefix(ev.RequestContext.RequestID, "local-") {
				t.Errorf("requestId: got %q, want a local- id", ev.RequestContext.RequestID)
			}
			for k, want := range tt.wantHeaders {
				if got, ok := ev.Headers[k]; !ok || got != want {
					t.Errorf("headers[%q]: got %q (present %v), want %q", k, got, ok, want)
				}
			}
			for k := range ev.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("header %q is not lower-case", k)
				}
			}
			if _, ok := ev.Headers["cookie"]; ok {
				t.Errorf("headers: got a cookie header %q, want cookies only in the cookies field", ev.Headers["cookie"])
			}
			a := ev.RequestContext.Authorizer
			if !tt.wantAuthorized {
				if a != nil {
					t.Errorf("authorizer: got %+v, want none on a public route", a)
				}
				return
			}
			if a == nil || a.JWT == nil {
				t.Fatal("authorizer.jwt: got none, want the verified claims")
			}
			gotClaims := map[string]string{"pid": a.JWT.Claims["pid"], "iss": a.JWT.Claims["iss"], "aud": a.JWT.Claims["aud"], "scope": a.JWT.Claims["scope"]}
			wantClaims := map[string]string{"pid": testPID, "iss": v.Issuer, "aud": v.Audience, "scope": "forms:read profile"}
			if !reflect.DeepEqual(gotClaims, wantClaims) {
				t.Errorf("authorizer.jwt.claims: got %v, want %v", gotClaims, wantClaims)
			}
			if want := []string{"forms:read", "profile"}; !slices.Equal(a.JWT.Scopes, want) {
				t.Errorf("authorizer.jwt.scopes: got %q, want %q", a.JWT.Scopes, want)
			}
		})
	}

	t.Run("handler response is written back", func(t *testing.T) {
		r := do(t, "GET", srv.URL+"/health", nil, nil)
		checks := []struct {
			name      string
			got, want any
		}{
			{"status", r.Status, 201},
			{"body (base64-decoded)", string(r.Body), "\x00echo\xff"},
			{"Content-Type", r.Header.Get("Content-Type"), "application/octet-stream"},
			{"X-Echo (multi-value)", r.Header.Values("X-Echo"), []string{"one", "two"}},
			{"Set-Cookie", r.Header.Values("Set-Cookie"), []string{"seen=1; Path=/"}},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
			}
		}
	})
}

func TestScopes(t *testing.T) {
	e, srv, v, _ := newEcho(t)
	tests := []struct {
		name       string
		scopes     []string
		wantStatus int
		wantCode   string
	}{
		{"no scope", nil, 403, "insufficient_scope"},
		{"other scopes", []string{"forms:read", "profile"}, 403, "insufficient_scope"},
		{"scope prefix is not the scope", []string{"forms:write-all"}, 403, "insufficient_scope"},
		{"required scope", []string{"forms:write"}, 201, ""},
		{"required scope among others", []string{"profile", "forms:write"}, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.count()
			r := do(t, "PUT", srv.URL+"/v1/forms", bearer(mint(t, v, testPID, tt.scopes...)), nil)
			if r.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %.300q)", r.Status, tt.wantStatus, r.Body)
			}
			wantCalls := before + 1
			if tt.wantCode != "" {
				wantCalls = before
				var p problemBody
				if err := json.Unmarshal(r.Body, &p); err != nil || p.Code != tt.wantCode {
					t.Errorf("problem: got %+v (%v), want code %q", p, err, tt.wantCode)
				}
			}
			if got := e.count(); got != wantCalls {
				t.Errorf("handler calls: got %d, want %d", got, wantCalls)
			}
		})
	}
	t.Run("scoped route still needs a valid token", func(t *testing.T) {
		r := do(t, "PUT", srv.URL+"/v1/forms", nil, nil)
		if r.Status != 401 {
			t.Errorf("status: got %d, want 401", r.Status)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	e, srv, v, _ := newEcho(t)
	h := http.Header{"Authorization": {"Bearer " + mint(t, v, testPID)}, "Content-Type": {"application/octet-stream"}}
	tests := []struct {
		name       string
		size       int
		wantStatus int
	}{
		{"exactly 10 MiB", 10 << 20, 201},
		{"10 MiB + 1", 10<<20 + 1, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.count()
			r := do(t, "POST", srv.URL+"/v1/things", h, bytes.Repeat([]byte{0xab}, tt.size))
			if r.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %.300q)", r.Status, tt.wantStatus, r.Body)
			}
			if tt.wantStatus != 201 {
				if got := e.count(); got != before {
					t.Errorf("handler calls: got %d, want %d (rejected before the handler)", got, before)
				}
				return
			}
			ev := e.last(t)
			got, err := base64.StdEncoding.DecodeString(ev.Body)
			if err != nil || len(got) != tt.size {
				t.Errorf("body: got %d bytes (%v), want %d", len(got), err, tt.size)
			}
		})
	}
}

func TestNewRejectsUnregisteredFunction(t *testing.T) {
	tests := []struct {
		name    string
		reg     map[string]localrun.Builder
		wantErr string
	}{
		{"empty registry", map[string]localrun.Builder{}, "ConsentFunction is in template.yaml but not in the local registry"},
		{"handler of the wrong type", map[string]localrun.Builder{
			"ConsentFunction": func(wire.Env) (any, error) { return func() {}, nil },
		}, "has HttpApi events but its handler is"},
	}
	local := testenv.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := localrun.New(local, tt.reg, devjwt.Verifier{Now: time.Now}, io.Discard, discard, localrun.NewClock(nil))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRoutes checks the listing `make run` prints.
func TestRoutes(t *testing.T) {
	runner, _ := newRunner(t, testenv.New(t), realTemplate(t), localrun.Registry)
	got := runner.Routes()
	var keys []string
	for _, l := range got {
		keys = append(keys, strings.Join(strings.Fields(l), " "))
	}
	for _, want := range []string{
		"DELETE /v1/consent ConsentFunction", "GET /v1/consent ConsentFunction",
		"PUT /v1/consent ConsentFunction", "GET /v1/consent/history ConsentFunction",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("got routes %q, want them to include %q", got, want)
		}
	}
}
