package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-json-experiment/json/jsontext"

	"privacycore/shared/domain"
	"privacycore/shared/http/httpapi"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code domain.Code
		want int
	}{
		{domain.EInvalid, 400}, {domain.EUnauthorized, 401}, {domain.EForbidden, 403}, {domain.ENotFound, 404},
		{domain.EMethodNotAllowed, 405}, {domain.EConflict, 409}, {domain.EPreconditionFailed, 412},
		{domain.ETooLarge, 413}, {domain.EUnsupportedMedia, 415}, {domain.EInternal, 500}, {"made_up", 500},
	}
	for _, tt := range tests {
		if got := httpapi.StatusOf(tt.code); got != tt.want {
			t.Errorf("StatusOf(%s) = %d, want %d", tt.code, got, tt.want)
		}
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	req := events.APIGatewayV2HTTPRequest{RouteKey: "GET /x", RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r1"}}
	secret := "dial tcp 10.0.0.7:443: table privacy-prod missing"
	for _, err := range []error{errors.New(secret), fmt.Errorf("wrapped: %w", errors.New(secret))} {
		resp := httpapi.Error(context.Background(), log, req, err)
		if resp.StatusCode != 500 || strings.Contains(resp.Body, "10.0.0.7") || strings.Contains(resp.Body, "privacy-prod") {
			t.Errorf("got %d %s, want 500 without internal detail", resp.StatusCode, resp.Body)
		}
		var p httpapi.Problem
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p.Code != "internal_error" || p.Instance != "urn:request:r1" {
			t.Errorf("problem: got %+v (%v)", p, err)
		}
	}
	if !strings.Contains(logs.String(), "privacy-prod") {
		t.Errorf("the internal error should be logged for operators: %s", logs.String())
	}
}

func TestDomainErrorExtensionsAreMerged(t *testing.T) {
	err := domain.Errorf(domain.EConflict, "powers_of_attorney_given", "Delete them first.").With("powersOfAttorney", []string{"g1"})
	resp := httpapi.Error(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), events.APIGatewayV2HTTPRequest{}, fmt.Errorf("withdraw: %w", err))
	var got map[string]any
	if e := json.Unmarshal([]byte(resp.Body), &got); e != nil {
		t.Fatal(e)
	}
	if resp.StatusCode != 409 || got["code"] != "powers_of_attorney_given" || fmt.Sprint(got["powersOfAttorney"]) != "[g1]" || got["status"] != 409.0 {
		t.Errorf("got %d %v", resp.StatusCode, got)
	}
	if resp.Headers["Content-Type"] != "application/problem+json" {
		t.Errorf("content type %q", resp.Headers["Content-Type"])
	}
}

func TestRouterRecoversFromPanics(t *testing.T) {
	r := httpapi.NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	r.Route("GET /boom", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		panic("nil map in 14838500073")
	})
	resp, err := r.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /boom"})
	if err != nil || resp.StatusCode != 500 || strings.Contains(resp.Body, "nil map") {
		t.Errorf("got %d %q %v, want a 500 problem without the panic text", resp.StatusCode, resp.Body, err)
	}
}

func TestRouterMethodNotAllowed(t *testing.T) {
	r := httpapi.NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ok := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return httpapi.NoContent()
	}
	r.Route("GET /v1/things/{id}", ok)
	r.Route("PUT /v1/things/{id}", ok)
	tests := []struct {
		name, routeKey, method, path string
		want                         int
		allow                        string
	}{
		{"declared", "GET /v1/things/{id}", "GET", "/v1/things/1", 204, ""},
		{"other method on a declared path", "$default", "POST", "/v1/things/1", 405, "GET, PUT"},
		{"unknown path", "$default", "GET", "/v1/other", 404, ""},
		{"junk method", "$default", "get<script>", "/v1/things/1", 405, "GET, PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := events.APIGatewayV2HTTPRequest{RouteKey: tt.routeKey, RawPath: tt.path}
			req.RequestContext.HTTP.Method = tt.method
			resp, _ := r.Handle(context.Background(), req)
			if resp.StatusCode != tt.want || resp.Headers["Allow"] != tt.allow {
				t.Errorf("got %d Allow=%q, want %d Allow=%q", resp.StatusCode, resp.Headers["Allow"], tt.want, tt.allow)
			}
			if strings.Contains(resp.Body, "<script>") {
				t.Errorf("problem echoes the raw method: %s", resp.Body)
			}
		})
	}
}

func TestCallerFrom(t *testing.T) {
	mk := func(claims map[string]string) events.APIGatewayV2HTTPRequest {
		var req events.APIGatewayV2HTTPRequest
		if claims != nil {
			req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
			}
		}
		return req
	}
	tests := []struct {
		name   string
		req    events.APIGatewayV2HTTPRequest
		reason string
	}{
		{"valid", mk(map[string]string{"pid": "14838500073"}), ""},
		{"no authorizer", mk(nil), "missing_token"},
		{"no pid", mk(map[string]string{"sub": "x"}), "invalid_token"},
		{"bad control digit", mk(map[string]string{"pid": "14838500074"}), "invalid_token"},
		{"too short", mk(map[string]string{"pid": "1483850007"}), "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := httpapi.CallerFrom(tt.req)
			got := ""
			if e, ok := domain.AsError(err); ok {
				got = e.Reason
			}
			if got != tt.reason {
				t.Errorf("reason: got %q, want %q (err %v)", got, tt.reason, err)
			}
			if err == nil && c.ID.Digits() != "14838500073" {
				t.Errorf("caller id mismatch")
			}
			if err != nil && strings.Contains(err.Error(), "1483850007") {
				t.Errorf("error text holds the id: %v", err)
			}
		})
	}
}

type body struct {
	Level string `json:"level"`
	Flag  bool   `json:"flag"`
}

// TestDecodeJSONStrict: each way a body can be ambiguous or mis-encoded
// has its own code, and the target is left as it was.
func TestDecodeJSONStrict(t *testing.T) {
	type dated struct {
		Level   string     `json:"level"`
		ValidTo *time.Time `json:"validTo"`
		Areas   []string   `json:"areas"`
	}
	dates := map[string]string{"validTo": "invalid_validity"}
	tests := []struct {
		name string
		body string
		want string // problem code, "" for accepted
	}{
		{"valid", `{"level":"full","validTo":"2030-02-28T00:00:00Z","areas":["a"]}`, ""},
		{"valid with surrounding space", " \n{\"level\":\"full\"}\t ", ""},
		{"duplicate key", `{"level":"basic","level":"full"}`, "duplicate_field"},
		{"duplicate key, same value", `{"level":"full","level":"full"}`, "duplicate_field"},
		{"duplicate key, escaped spelling", `{"level":"basic","l\u0065vel":"full"}`, "duplicate_field"},
		{"key in other case", `{"LEVEL":"full"}`, "unknown_field"},
		{"key in other case beside the real one", `{"level":"basic","LEVEL":"full"}`, "unknown_field"},
		{"key title case", `{"Level":"full"}`, "unknown_field"},
		{"invalid UTF-8 in a value", "{\"level\":\"f\xffull\"}", "invalid_utf8"},
		{"invalid UTF-8 in a key", "{\"le\xc3vel\":\"full\"}", "invalid_utf8"},
		{"invalid UTF-8 in an array", "{\"areas\":[\"a\",\"\xed\xa0\x80\"]}", "invalid_utf8"},
		{"invalid UTF-8 in whitespace", "{\"level\":\"full\"}\xff", "invalid_utf8"},
		{"lone surrogate escape", `{"level":"\ud800"}`, "invalid_utf8"},
		{"null body", `null`, "malformed_json"},
		{"null body with space", ` null `, "malformed_json"},
		{"array body", `[]`, "malformed_json"},
		{"string body", `"full"`, "malformed_json"},
		{"empty body", ``, "malformed_json"},
		{"trailing data", `{"level":"full"} {}`, "malformed_json"},
		{"unclosed", `{"level":"full"`, "malformed_json"},
		{"unknown field", `{"level":"full","pid":"x"}`, "unknown_field"},
		{"wrong type", `{"level":1}`, "invalid_field"},
		{"wrong type in a list", `{"areas":[1]}`, "invalid_field"},
		{"date that does not exist", `{"validTo":"2030-02-30T00:00:00Z"}`, "invalid_validity"},
		{"date without time", `{"validTo":"2030-02-28"}`, "invalid_validity"},
		{"date of wrong type", `{"validTo":20300228}`, "invalid_validity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := dated{Level: "before"}
			req := events.APIGatewayV2HTTPRequest{Body: tt.body, Headers: map[string]string{"content-type": "application/json"}}
			err := httpapi.DecodeJSONFields(req, &v, dates)
			got := ""
			if err != nil {
				e, ok := domain.AsError(err)
				if !ok || httpapi.StatusOf(e.Code) != 400 {
					t.Fatalf("got %v, want a 400 problem", err)
				}
				got = e.Reason
			}
			if got != tt.want {
				t.Errorf("code: got %q, want %q (err %v)", got, tt.want, err)
			}
			if tt.want != "" && v.Level != "before" && v.Level != "" {
				t.Errorf("a refused body set level to %q", v.Level)
			}
		})
	}
}

// FuzzDecodeJSON checks that no body makes the decoder panic, and that any
// body it accepts is one JSON object in valid UTF-8 without duplicate
// names, with only known fields, within the limit.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"level":"full"}`, `{"level":"full","flag":true}`, `{`, `null`, `[]`, `{"x":1}`, `{"level":1}`, `{} {}`, "\x00", strings.Repeat(" ", 70000),
		`{"level":"a","level":"b"}`, `{"LEVEL":"a"}`, "{\"level\":\"\xff\"}", `{"level":"\ud800"}`, `{"flag":null}`} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, b64 bool) {
		req := events.APIGatewayV2HTTPRequest{Body: s, IsBase64Encoded: b64, Headers: map[string]string{"content-type": "application/json"}}
		var v body
		err := httpapi.DecodeJSON(req, &v)
		if err != nil {
			if _, ok := domain.AsError(err); !ok {
				t.Fatalf("non-domain error %v (would be a 500)", err)
			}
			if code := domain.ErrorCode(err); httpapi.StatusOf(code) >= 500 {
				t.Fatalf("bad input mapped to %d", httpapi.StatusOf(code))
			}
			return
		}
		if b64 {
			return
		}
		// jsontext.Value.IsValid refuses invalid UTF-8 and duplicate names.
		trimmed := strings.TrimLeft(s, " \t\r\n")
		if len(s) > httpapi.MaxBody || !json.Valid([]byte(s)) || !jsontext.Value(s).IsValid() || !strings.HasPrefix(trimmed, "{") {
			t.Fatalf("accepted an invalid, ambiguous, non-object or oversized body %q", s)
		}
		// Every name must be a field's exact name.
		var names map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &names); err != nil {
			t.Fatalf("accepted %q, which is not an object: %v", s, err)
		}
		for k := range names {
			if k != "level" && k != "flag" {
				t.Fatalf("accepted %q with member %q", s, k)
			}
		}
	})
}
