package consentapi_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	if r := f.do(f.event("give")); r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Raw)
	}
	pk := f.pk(kariPID)
	before := fmt.Sprint(f.partition(pk))

	noAuth := func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer = nil }
	noClaim := func(e *events.APIGatewayV2HTTPRequest) { delete(e.RequestContext.Authorizer.JWT.Claims, "pid") }
	route := func(key string) func(*events.APIGatewayV2HTTPRequest) {
		return func(e *events.APIGatewayV2HTTPRequest) {
			e.RouteKey = key
			e.RequestContext.RouteKey = key
			e.RequestContext.HTTP.Method, e.RawPath, _ = strings.Cut(key, " ")
		}
	}
	query := func(k, v string) func(*events.APIGatewayV2HTTPRequest) {
		return func(e *events.APIGatewayV2HTTPRequest) {
			if e.QueryStringParameters == nil {
				e.QueryStringParameters = map[string]string{}
			}
			e.QueryStringParameters[k] = v
		}
	}
	b64 := func(s string) func(*events.APIGatewayV2HTTPRequest) {
		return func(e *events.APIGatewayV2HTTPRequest) { e.Body, e.IsBase64Encoded = s, true }
	}
	big := `{"level":"basic","x":"` + strings.Repeat("a", 64<<10) + `"}`

	tests := []struct {
		name       string
		fixture    string
		opts       []func(*events.APIGatewayV2HTTPRequest)
		wantStatus int
		wantCode   string
	}{
		{"malformed JSON", "bad-body", nil, 400, "malformed_json"},
		{"unknown level", "unknown-level", nil, 400, "unknown_level"},
		{"empty level", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{}`)}, 400, "unknown_level"},
		{"level in wrong case", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"FULL"}`)}, 400, "unknown_level"},
		{"JSON null", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`null`)}, 400, "malformed_json"},
		{"duplicate level", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"basic","level":"full"}`)}, 400, "duplicate_field"},
		{"level key in upper case", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"basic","LEVEL":"full"}`)}, 400, "unknown_field"},
		{"invalid UTF-8", "give", []func(*events.APIGatewayV2HTTPRequest){withBody("{\"level\":\"b\xe5sic\"}")}, 400, "invalid_utf8"},
		{"JSON array", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`["full"]`)}, 400, "malformed_json"},
		{"empty body", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(``)}, 400, "malformed_json"},
		{"trailing data", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"full"} {}`)}, 400, "malformed_json"},
		{"unknown field", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"full","pid":"` + kariPID + `"}`)}, 400, "unknown_field"},
		{"wrong type", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"full","patientTravel":"yes"}`)}, 400, "invalid_field"},
		{"patient travel below full", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"level":"basic","patientTravel":true}`)}, 400, "patient_travel_requires_full"},
		{"body over 64 KiB", "give", []func(*events.APIGatewayV2HTTPRequest){withBody(big)}, 413, "body_too_large"},
		{"base64 body over 64 KiB", "give", []func(*events.APIGatewayV2HTTPRequest){b64(base64.StdEncoding.EncodeToString([]byte(big)))}, 413, "body_too_large"},
		{"bad base64", "give", []func(*events.APIGatewayV2HTTPRequest){b64("%%%")}, 400, "malformed_body"},
		{"not JSON content type", "give", []func(*events.APIGatewayV2HTTPRequest){withHeader("content-type", "text/plain")}, 415, "unsupported_media_type"},
		{"missing token", "give", []func(*events.APIGatewayV2HTTPRequest){noAuth}, 401, "missing_token"},
		{"token without pid", "give", []func(*events.APIGatewayV2HTTPRequest){noClaim}, 401, "invalid_token"},
		{"pid with bad control digit", "give", []func(*events.APIGatewayV2HTTPRequest){withPID("14838500074")}, 401, "invalid_token"},
		{"pid with letters", "give", []func(*events.APIGatewayV2HTTPRequest){withPID("1483850007x")}, 401, "invalid_token"},
		{"missing token on read", "get", []func(*events.APIGatewayV2HTTPRequest){noAuth}, 401, "missing_token"},
		{"wrong method", "give", []func(*events.APIGatewayV2HTTPRequest){route("POST /v1/consent")}, 405, "method_not_allowed"},
		{"unknown route", "give", []func(*events.APIGatewayV2HTTPRequest){route("GET /v1/consent/" + kariPID)}, 404, "route_not_found"},
		{"bad If-Match", "change", []func(*events.APIGatewayV2HTTPRequest){withHeader("if-match", "1")}, 400, "invalid_if_match"},
		{"stale If-Match", "change", []func(*events.APIGatewayV2HTTPRequest){withHeader("if-match", `"7"`)}, 412, "version_mismatch"},
		{"stale If-Match on withdraw", "withdraw", []func(*events.APIGatewayV2HTTPRequest){withHeader("if-match", `"7"`)}, 412, "version_mismatch"},
		{"confirmCascade not a boolean", "withdraw", []func(*events.APIGatewayV2HTTPRequest){query("confirmCascade", "yes")}, 400, "invalid_query"},
		{"body on withdraw", "withdraw", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"confirm":true}`)}, 400, "unexpected_body"},
		{"limit zero", "history", []func(*events.APIGatewayV2HTTPRequest){query("limit", "0")}, 400, "invalid_query"},
		{"limit not a number", "history", []func(*events.APIGatewayV2HTTPRequest){query("limit", "ten")}, 400, "invalid_query"},
		{"cursor not base64", "history", []func(*events.APIGatewayV2HTTPRequest){query("cursor", "!!")}, 400, "invalid_cursor"},
		{"cursor outside history", "history", []func(*events.APIGatewayV2HTTPRequest){query("cursor", base64.RawURLEncoding.EncodeToString([]byte("USAGE#x")))}, 400, "invalid_cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(f.event(tt.fixture, tt.opts...))
			if r.Status != tt.wantStatus || r.Body["code"] != tt.wantCode {
				t.Errorf("got %d %v, want %d %s", r.Status, r.Body["code"], tt.wantStatus, tt.wantCode)
			}
			if ct := r.Headers["Content-Type"]; ct != "application/problem+json" {
				t.Errorf("Content-Type: got %q, want application/problem+json", ct)
			}
			if r.Body["status"] != float64(tt.wantStatus) || r.Body["type"] == "" || r.Body["title"] == "" {
				t.Errorf("problem members: got %v", r.Body)
			}
			if strings.Contains(r.Raw, kariPID) || strings.Contains(r.Raw, "14838500074") {
				t.Errorf("problem body echoes a person id: %s", r.Raw)
			}
			if r.Status >= http.StatusInternalServerError {
				t.Errorf("bad input caused a server error")
			}
			if after := fmt.Sprint(f.partition(pk)); after != before {
				t.Errorf("bad input changed data:\n before %s\n after  %s", before, after)
			}
		})
	}
	if logs := f.logs.String(); strings.Contains(logs, kariPID) || strings.Contains(logs, "14838500074") {
		t.Errorf("a person id reached the logs:\n%s", logs)
	}
}

func TestWithdrawWithoutConsent(t *testing.T) {
	f := newFixture(t)
	r := f.do(f.event("withdraw"))
	if r.Status != 404 || r.Body["code"] != "no_consent" {
		t.Fatalf("got %d %v, want 404 no_consent", r.Status, r.Body["code"])
	}
	if left := f.partition(f.pk(kariPID)); len(left) != 0 {
		t.Errorf("stored %v", left)
	}
}
