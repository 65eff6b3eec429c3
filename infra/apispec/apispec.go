// Package apispec holds the HTTP API to its contract, infra/openapi.yaml:
// it validates an API Gateway event and the handler's response against the
// OpenAPI document with kin-openapi (request parameters and body, response
// status, headers and body), so a handler that returns a field, a status or
// a code the document lacks is caught by whichever test made the request.
//
// Integration tests call Check from their request helper, one line:
//
//	apispec.Check(t, ev, resp)
package apispec

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"privacycore/infra/stack"
)

// File is where the document lives, relative to the repository root.
const File = "infra/openapi.yaml"

// host stands in for the API's address: routing is by method and path only.
const host = "https://privacycore.test"

// Spec is the loaded, validated document and a router over its paths.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
}

var loaded struct {
	once sync.Once
	spec *Spec
	err  error
}

// Load reads and validates the document once per process.
func Load() (*Spec, error) {
	loaded.once.Do(func() {
		tmpl, err := stack.FindTemplate()
		if err != nil {
			loaded.err = err
			return
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(tmpl), File))
		if err != nil {
			loaded.err = err
			return
		}
		loaded.spec, loaded.err = Parse(b)
	})
	return loaded.spec, loaded.err
}

// Parse loads and validates an OpenAPI document.
func Parse(b []byte) (*Spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", File, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", File, err)
	}
	// Route on method and path alone; the servers' host and stage prefix
	// are API Gateway's business.
	routed := *doc
	routed.Servers = openapi3.Servers{{URL: host}}
	r, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", File, err)
	}
	return &Spec{Doc: doc, router: r}, nil
}

// Operation is one method and path of the document, with the scopes its
// security requirement names (operator routes), if any.
type Operation struct {
	Method, Path string
	Scopes       []string
}

// Key is the operation as an API Gateway route key ("GET /v1/consent").
func (o Operation) Key() string { return o.Method + " " + o.Path }

// Operations lists every operation, sorted by route key.
func (s *Spec) Operations() []Operation {
	var out []Operation
	for path, item := range s.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := Operation{Method: method, Path: path}
			sec := s.Doc.Security
			if op.Security != nil {
				sec = *op.Security
			}
			for _, req := range sec {
				for _, scopes := range req {
					o.Scopes = append(o.Scopes, scopes...)
				}
			}
			sort.Strings(o.Scopes)
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// options: bodies validated both ways, every status declared, no body where
// none is declared. Security is API Gateway's JWT authorizer's job, which
// has passed before a handler sees the event, so authentication succeeds.
var options = &openapi3filter.Options{
	MultiError:                        true,
	IncludeResponseStatus:             true,
	RejectWhenRequestBodyNotSpecified: true,
	AuthenticationFunc:                func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
}

// Validate checks one exchange. The response must match the document for
// its status. A request the document rejects must have been answered with
// a 4xx: a handler that accepts what the contract forbids is an error too.
// An event for a route the document does not have is accepted only if the
// handler answered it as unrouted (404 route_not_found or 405), as API
// Gateway would before any handler ran.
func (s *Spec) Validate(ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) error {
	ctx := context.Background()
	req, err := request(ev)
	if err != nil {
		return err
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s %s is not an operation of %s, yet the handler answered %d", req.Method, req.URL.Path, File, resp.StatusCode)
	}
	if key := ev.RouteKey; key != "" && key != "$default" && key != req.Method+" "+route.Path {
		return fmt.Errorf("event route key %q, but %s %s is %s %s in %s", key, req.Method, req.URL.Path, req.Method, route.Path, File)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: options}
	reqErr := openapi3filter.ValidateRequest(ctx, in)

	header := http.Header{}
	for k, v := range resp.Headers {
		header.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			header.Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("response body is not valid base64: %w", err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: header, Options: options}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response %d to %s %s does not match %s: %w", resp.StatusCode, req.Method, route.Path, File, err)
	}
	if r := route.Operation.Responses.Status(resp.StatusCode); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("response %d to %s %s has a body, but %s declares none", resp.StatusCode, req.Method, route.Path, File)
	}
	if reqErr != nil && (resp.StatusCode < 400 || resp.StatusCode > 499) {
		return fmt.Errorf("the handler answered %d to a request %s rejects (%v)", resp.StatusCode, File, reqErr)
	}
	return nil
}

// Check validates an exchange against the document and fails t on any
// mismatch. Tests call it for every request they send to a handler.
func Check(t testing.TB, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(ev, resp); err != nil {
		t.Errorf("API contract: %v\nresponse body: %s", err, resp.Body)
	}
}

// request rebuilds the HTTP request API Gateway received from its event.
func request(ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method, path := ev.RequestContext.HTTP.Method, ev.RawPath
	keyMethod, keyPath, _ := strings.Cut(ev.RouteKey, " ")
	if method == "" {
		method = keyMethod
	}
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	if path == "" && strings.HasPrefix(keyPath, "/") {
		path = keyPath
		for k, v := range ev.PathParameters {
			path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
		}
	}
	if method == "" || path == "" {
		return nil, errors.New("the event names no method and path (requestContext.http, rawPath or routeKey)")
	}
	u, err := url.Parse(host + path)
	if err != nil {
		return nil, fmt.Errorf("event path %q: %w", path, err)
	}
	// Handlers read queryStringParameters; tests often set only those.
	if len(ev.QueryStringParameters) > 0 {
		q := url.Values{}
		for k, v := range ev.QueryStringParameters {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	} else {
		u.RawQuery = ev.RawQueryString
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			body = []byte(ev.Body) // the handler refuses it (malformed_body); validate what came
		}
	}
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	// The handlers read a body without a Content-Type as JSON (httpapi.DecodeJSON).
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Lint checks the structural rules of Redocly's recommended ruleset that
// are cheap to check without Node (make lint-openapi runs Redocly itself):
// every operation has a summary, a unique operationId, tags that the
// document declares, a 2xx and a 4xx response; every declared tag has a
// description. It returns one line per violation, sorted.
func Lint(doc *openapi3.T) []string {
	var out []string
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		declared[tag.Name] = true
		if strings.TrimSpace(tag.Description) == "" {
			out = append(out, fmt.Sprintf("tag %s: no description (tag-description)", tag.Name))
		}
	}
	ids := map[string]string{}
	paths := doc.Paths.Map()
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		ops := paths[path].Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			op, where := ops[method], method+" "+path
			if strings.TrimSpace(op.Summary) == "" {
				out = append(out, where+": no summary (operation-summary)")
			}
			switch prev, dup := ids[op.OperationID]; {
			case op.OperationID == "":
				out = append(out, where+": no operationId (operation-operationId)")
			case dup:
				out = append(out, fmt.Sprintf("%s: operationId %s is also %s's (operation-operationId-unique)", where, op.OperationID, prev))
			default:
				ids[op.OperationID] = where
			}
			if len(op.Tags) == 0 {
				out = append(out, where+": no tag (operation-tag-defined)")
			}
			for _, tag := range op.Tags {
				if !declared[tag] {
					out = append(out, fmt.Sprintf("%s: tag %s is not declared under tags (operation-tag-defined)", where, tag))
				}
			}
			var has2xx, has4xx bool
			if op.Responses != nil {
				for status := range op.Responses.Map() {
					has2xx = has2xx || strings.HasPrefix(status, "2")
					has4xx = has4xx || strings.HasPrefix(status, "4")
				}
			}
			if !has2xx {
				out = append(out, where+": no 2xx response (operation-2xx-response)")
			}
			if !has4xx {
				out = append(out, where+": no 4xx response (operation-4xx-response)")
			}
		}
	}
	sort.Strings(out)
	return out
}
