package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
)

// HandlerFunc handles one route. It returns a response or an error; errors
// become problem responses in one place (Router.Handle).
type HandlerFunc func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Router dispatches API Gateway HTTP API events on their route key
// ("GET /v1/consent"), exactly as declared in template.yaml.
type Router struct {
	Log    *slog.Logger
	routes map[string]HandlerFunc
}

// Routes maps route keys ("PUT /v1/consent") to their handlers.
type Routes map[string]HandlerFunc

// NewRouter returns a router serving routes that logs to log. Every API's
// Handler embeds one, so its Handle is the router's.
func NewRouter(log *slog.Logger, routes Routes) *Router {
	r := &Router{Log: log, routes: make(map[string]HandlerFunc, len(routes))}
	for key, fn := range routes {
		r.Route(key, fn)
	}
	return r
}

// Route registers fn for a route key such as "PUT /v1/consent".
func (r *Router) Route(routeKey string, fn HandlerFunc) {
	if _, dup := r.routes[routeKey]; dup {
		panic("httpapi: duplicate route " + routeKey)
	}
	r.routes[routeKey] = fn
}

// RouteKeys lists the registered route keys, sorted.
func (r *Router) RouteKeys() []string {
	keys := make([]string, 0, len(r.routes))
	for k := range r.routes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Handle is the Lambda entry point. It never returns an error to the
// runtime: every failure, including a panic, becomes a problem response.
func (r *Router) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			resp = Error(ctx, r.Log, req, fmt.Errorf("panic in route %s: %v", req.RouteKey, p))
		}
		r.Log.InfoContext(ctx, "request", "route", req.RouteKey, "status", resp.StatusCode, "ms", time.Since(start).Milliseconds())
	}()
	fn, err := r.match(req)
	if err == nil {
		resp, err = fn(ctx, req)
	}
	if err != nil {
		return Error(ctx, r.Log, req, err), nil
	}
	return resp, nil
}

func (r *Router) match(req events.APIGatewayV2HTTPRequest) (HandlerFunc, error) {
	key := req.RouteKey
	if key == "" || key == "$default" {
		key = req.RequestContext.HTTP.Method + " " + req.RawPath
	}
	if fn, ok := r.routes[key]; ok {
		return fn, nil
	}
	method, path, _ := strings.Cut(key, " ")
	var allow []string
	for k := range r.routes {
		m, p, _ := strings.Cut(k, " ")
		if m != method && pathMatches(p, path) {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		slices.Sort(allow)
		return nil, domain.Errorf(domain.EMethodNotAllowed, "method_not_allowed", "The method %s is not allowed here.", sanitizeMethod(method)).With("allow", allow)
	}
	return nil, domain.Errorf(domain.ENotFound, "route_not_found", "No such route.")
}

// pathMatches reports whether a concrete path (or a route template) matches
// a route template with {param} segments.
func pathMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") || ts[i] == ps[i] {
			continue
		}
		return false
	}
	return true
}

func sanitizeMethod(m string) string {
	if len(m) > 10 || strings.IndexFunc(m, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return "given"
	}
	return m
}

// JSON returns a JSON response with the given status and extra headers.
func JSON(status int, v any, headers ...string) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("encode response: %w", err)
	}
	h := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: string(b)}, nil
}

// NoContent returns an empty 204 response.
func NoContent() (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent}, nil
}
