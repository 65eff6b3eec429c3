package profileapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

type opt = func(*events.APIGatewayV2HTTPRequest)

func route(key string) opt {
	return func(e *events.APIGatewayV2HTTPRequest) {
		e.RouteKey = key
		e.RequestContext.RouteKey = key
		e.RequestContext.HTTP.Method, e.RawPath, _ = strings.Cut(key, " ")
	}
}

// stringsIn collects the string values of a JSON body, to check that an
// answer does not echo what the client sent.
func stringsIn(body string) []string {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if len(x) >= 4 {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.give(kari)
	closest := f.do("add-next-of-kin").Body["id"].(string)
	f.do("add-next-of-kin", withBody(`{"name":"Kari Hansen","phone":"+46701234567","relation":"sibling"}`))
	f.do("record-login")
	f.do("grant-app-permission")
	pk := f.pk(kari)
	before := fmt.Sprint(f.items(pk))

	noAuth := func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer = nil }
	b64 := func(s string) opt {
		return func(e *events.APIGatewayV2HTTPRequest) { e.Body, e.IsBase64Encoded = s, true }
	}
	unknownID := strings.Repeat("ab", 16)
	big := `{"text":"` + strings.Repeat("a", 64<<10) + `"}`
	kin := func(fields string) opt {
		return withBody(`{"name":"Per Hansen","phone":"+4791112222","relation":"sibling"` + fields + `}`)
	}

	tests := []struct {
		name       string
		fixture    string
		opts       []opt
		wantStatus int
		wantCode   string
	}{
		{"malformed JSON", "add-next-of-kin", []opt{withBody(`{"name":`)}, 400, "malformed_json"},
		{"JSON array", "add-next-of-kin", []opt{withBody(`[{"name":"Per"}]`)}, 400, "malformed_json"},
		{"empty body", "set-channel", []opt{withBody(``)}, 400, "malformed_json"},
		{"trailing data", "set-channel", []opt{withBody(`{"channel":"sms"} {}`)}, 400, "malformed_json"},
		{"unknown field", "add-next-of-kin", []opt{kin(`,"pid":"` + kari + `"`)}, 400, "unknown_field"},
		{"a next of kin's person id is not accepted", "add-next-of-kin", []opt{kin(`,"personId":"` + ola + `"`)}, 400, "unknown_field"},
		{"wrong type", "add-next-of-kin", []opt{kin(`,"closest":"yes"`)}, 400, "invalid_field"},
		{"bad phone (fixture)", "add-next-of-kin-bad-phone", nil, 400, "invalid_phone"},
		{"phone with letters", "add-next-of-kin", []opt{withBody(`{"name":"Per","phone":"+47 9111 222X","relation":"sibling"}`)}, 400, "invalid_phone"},
		{"bad e-mail", "add-next-of-kin", []opt{kin(`,"email":"Per Hansen <per@example.no>"`)}, 400, "invalid_email"},
		{"e-mail without domain", "add-next-of-kin", []opt{kin(`,"email":"per.hansen@"`)}, 400, "invalid_email"},
		{"unknown relation", "add-next-of-kin", []opt{withBody(`{"name":"Per","phone":"+4791112222","relation":"neighbour"}`)}, 400, "unknown_relation"},
		{"no name", "add-next-of-kin", []opt{withBody(`{"phone":"+4791112222","relation":"sibling"}`)}, 400, "invalid_name"},
		{"the same next of kin twice", "add-next-of-kin", nil, 409, "next_of_kin_exists"},
		{"unknown channel", "set-channel", []opt{withBody(`{"channel":"carrier-pigeon"}`)}, 400, "unknown_channel"},
		{"JSON null", "set-channel", []opt{withBody(`null`)}, 400, "malformed_json"},
		{"JSON null clears no communication needs", "set-communication-needs", []opt{withBody(`null`)}, 400, "malformed_json"},
		{"duplicate channel", "set-channel", []opt{withBody(`{"channel":"sms","channel":"email"}`)}, 400, "duplicate_field"},
		{"channel in upper case", "set-channel", []opt{withBody(`{"CHANNEL":"email"}`)}, 400, "unknown_field"},
		{"channel twice, once in upper case", "set-channel", []opt{withBody(`{"channel":"sms","Channel":"email"}`)}, 400, "unknown_field"},
		{"invalid UTF-8 in text", "set-communication-needs", []opt{withBody("{\"text\":\"h\xf8rer\"}")}, 400, "invalid_utf8"},
		{"text too long", "set-communication-needs", []opt{withBody(`{"text":"` + strings.Repeat("ø", 501) + `"}`)}, 400, "text_too_long"},
		{"control character in text", "set-communication-needs", []opt{withBody(`{"text":"bell\u0007here"}`)}, 400, "invalid_text"},
		{"unknown language", "set-communication-needs", []opt{withBody(`{"interpreterLanguage":"norsk"}`)}, 400, "unknown_language"},
		{"bad organisation number", "set-employer", []opt{withBody(`{"name":"Firma AS","organisationNumber":"123456789"}`)}, 400, "invalid_organisation_number"},
		{"employer without name", "set-employer", []opt{withBody(`{"phone":"+4755975000"}`)}, 400, "invalid_name"},
		{"employer with bad phone", "set-employer", []opt{withBody(`{"name":"Firma AS","phone":"5597 5000"}`)}, 400, "invalid_phone"},
		{"unknown login method", "record-login", []opt{withBody(`{"client":"Safari","method":"password"}`)}, 400, "unknown_login_method"},
		{"unreadable expiry", "record-login", []opt{withBody(`{"client":"Safari","method":"bankid","expiresAt":"tomorrow"}`)}, 400, "invalid_expiry"},
		{"expiry in the past", "record-login", []opt{withBody(`{"client":"Safari","method":"bankid","expiresAt":"2020-01-01T00:00:00Z"}`)}, 400, "invalid_expiry"},
		{"bad client id", "grant-app-permission", []opt{withBody(`{"clientId":"my app","name":"App","scopes":["read"]}`)}, 400, "invalid_client_id"},
		{"no scopes", "grant-app-permission", []opt{withBody(`{"clientId":"app","name":"App","scopes":[]}`)}, 400, "invalid_scopes"},
		{"unknown next of kin", "remove-next-of-kin", []opt{withID(unknownID)}, 404, "next_of_kin_not_found"},
		{"a person id as next-of-kin id", "remove-next-of-kin", []opt{withID(kari)}, 404, "next_of_kin_not_found"},
		{"path traversal as id", "remove-next-of-kin", []opt{withID("..%2F..%2Fconsent")}, 404, "next_of_kin_not_found"},
		{"closest to an unknown id", "set-closest", []opt{withBody(`{"id":"` + unknownID + `"}`)}, 404, "next_of_kin_not_found"},
		{"closest without id", "set-closest", []opt{withBody(`{}`)}, 404, "next_of_kin_not_found"},
		{"removing the closest while others remain", "remove-next-of-kin", []opt{withID(closest)}, 409, "closest_needs_replacement"},
		{"unknown login", "revoke-login", []opt{withID(unknownID)}, 404, "login_not_found"},
		{"unknown app permission", "revoke-app-permission", []opt{withID(unknownID)}, 404, "app_permission_not_found"},
		{"body on a delete", "remove-employer", []opt{withBody(`{"confirm":true}`)}, 400, "unexpected_body"},
		{"body on a revoke", "revoke-login", []opt{withBody(`{}`)}, 400, "unexpected_body"},
		{"If-Match not quoted", "add-next-of-kin", []opt{kin(""), withHeader("if-match", "2")}, 400, "invalid_if_match"},
		{"stale If-Match", "set-closest", []opt{withBody(`{"id":"` + closest + `"}`), withHeader("if-match", `"1"`)}, 412, "version_mismatch"},
		{"not JSON content type", "set-channel", []opt{withHeader("content-type", "text/plain")}, 415, "unsupported_media_type"},
		{"body over 64 KiB", "set-communication-needs", []opt{withBody(big)}, 413, "body_too_large"},
		{"bad base64", "set-channel", []opt{b64("%%%")}, 400, "malformed_body"},
		{"missing token", "get", []opt{noAuth}, 401, "missing_token"},
		{"missing token on a write", "add-next-of-kin", []opt{noAuth}, 401, "missing_token"},
		{"pid with bad control digit", "get", []opt{withPID("14838500074")}, 401, "invalid_token"},
		{"wrong method", "set-employer", []opt{route("PATCH /v1/profile/employer")}, 405, "method_not_allowed"},
		{"wrong method on the profile", "get", []opt{route("DELETE /v1/profile")}, 405, "method_not_allowed"},
		{"person id in the path", "get", []opt{route("GET /v1/profile/" + kari)}, 404, "route_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := f.event(tt.fixture, tt.opts...)
			r := f.call(f.profile, ev)
			if r.Status != tt.wantStatus || r.Body["code"] != tt.wantCode {
				t.Errorf("got %d %v, want %d %s", r.Status, r.Body["code"], tt.wantStatus, tt.wantCode)
			}
			if ct := r.Headers["Content-Type"]; ct != "application/problem+json" {
				t.Errorf("Content-Type: got %q, want application/problem+json", ct)
			}
			if r.Body["status"] != float64(tt.wantStatus) || r.Body["type"] == "" || r.Body["title"] == "" {
				t.Errorf("problem members: got %v", r.Body)
			}
			for _, s := range append(stringsIn(ev.Body), kari, ola, "14838500074") {
				if strings.Contains(r.Raw, s) {
					t.Errorf("the answer echoes %q: %s", s, r.Raw)
				}
			}
			if r.Status >= http.StatusInternalServerError {
				t.Errorf("bad input caused a server error")
			}
			if after := fmt.Sprint(f.items(pk)); after != before {
				t.Errorf("bad input changed data:\n before %s\n after  %s", before, after)
			}
		})
	}
	if logs := f.logs.String(); strings.Contains(logs, kari) || strings.Contains(logs, "14838500074") {
		t.Errorf("a person id reached the logs")
	}
}

// FuzzRequestBodies sends arbitrary bodies to every route that reads one:
// never a server error, and a rejected request changes nothing.
func FuzzRequestBodies(f *testing.F) {
	fx := newFixture(f)
	fx.give(kari)
	routes := []string{"set-channel", "add-next-of-kin", "set-closest", "set-employer", "set-communication-needs", "record-login", "grant-app-permission"}
	for i, name := range routes {
		body := testEventBody(f, name)
		f.Add(uint8(i), body)
		f.Add(uint8(i), body[:len(body)/2])
		f.Add(uint8(i), strings.Replace(body, `"`, `'`, 1))
	}
	f.Add(uint8(1), `{"name":"\u0000","phone":"+47\u00a091234567","relation":"spouse","closest":true}`)
	f.Add(uint8(1), `{"name":"Å","phone":"+4791234567","email":"a@b.no","relation":"spouse","closest":null}`)
	f.Add(uint8(2), `{"id":null}`)
	f.Add(uint8(4), `{"text":"`+strings.Repeat(`\n`, 600)+`","signLanguage":1}`)
	f.Add(uint8(5), `{"client":"x","method":"bankid","expiresAt":"9999-12-31T23:59:59+14:00"}`)
	f.Add(uint8(6), `{"clientId":"a","name":"b","scopes":["a",null]}`)
	f.Add(uint8(0), `{"channel":"sms","channel":"email"}`)
	f.Add(uint8(0), "\xff\xfe{}")
	pk := fx.pk(kari)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		g := *fx
		g.t = t
		before := fmt.Sprint(g.items(pk))
		r := g.callUnchecked(g.profile, g.event(routes[int(which)%len(routes)], withBody(body)))
		if r.Status >= 500 {
			t.Fatalf("server error %d %s for %q", r.Status, r.Raw, body)
		}
		if r.Status >= 400 {
			if after := fmt.Sprint(g.items(pk)); after != before {
				t.Fatalf("rejected request (%d %v) changed data", r.Status, r.Body["code"])
			}
		}
		if strings.Contains(r.Raw, kari) {
			t.Fatalf("the answer holds the caller's person id")
		}
	})
}

func testEventBody(t testing.TB, name string) string {
	f := &fixture{t: t}
	return f.event(name).Body
}
