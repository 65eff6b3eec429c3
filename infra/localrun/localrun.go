// Package localrun serves the functions of template.yaml on one machine: the
// HttpApi routes as a real HTTP server that converts requests into API
// Gateway (payload 2.0) events for the real handlers; the SQS event sources
// as pollers that call the consumers as Lambda's event source mapping does;
// schedules on demand (Trigger, or the admin routes under /_local/); and a
// clock every function reads, which the developer can move forward.
package localrun

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"privacycore/infra/devjwt"
	"privacycore/infra/fakenhn"
	"privacycore/infra/stack"
	"privacycore/shared/http/httpapi"
	"privacycore/shared/wire"
)

// Builder builds one function's handler, exactly as its main.go does.
type Builder func(wire.Env) (any, error)

// HTTP adapts a typed HTTP constructor to a Builder.
func HTTP(build func(wire.Env) (wire.HTTPHandler, error)) Builder {
	return func(e wire.Env) (any, error) {
		h, err := build(e)
		if err != nil {
			return nil, err
		}
		return wire.Observe(e, h), nil // as wire.Start does in Lambda
	}
}

// Registry maps a function's logical id in template.yaml to its builder.
// It is the only list the runner keeps; everything else comes from the template.
var Registry = map[string]Builder{
	"ConsentFunction":        HTTP(wire.ConsentAPI),
	"NoticeWorkerFunction":   SQS(wire.NoticeWorker),
	"SweeperFunction":        Schedule(wire.Sweeper),
	"PurgeWorkerFunction":    SQS(wire.PurgeWorker),
	"AccessFunction":         HTTP(wire.AccessAPI),
	"RepresentationFunction": HTTP(wire.RepresentationAPI),
	"AgeTransitionsFunction": Schedule(wire.AgeTransitions),
	"SettingsFunction":       HTTP(wire.SettingsAPI),
	"FormsFunction":          HTTP(wire.FormsAPI),
	"FormsWorkerFunction":    SQS(wire.FormsWorker),
	"ProfileFunction":        HTTP(wire.ProfileAPI),
	"RegisterFeedFunction":   Schedule(wire.RegisterFeed),
	"SectorSettingsFunction": HTTP(wire.SectorSettingsAPI),
	"SectorFunction":         HTTP(wire.SectorAPI),
}

// maxRequestBody is API Gateway's payload limit; handlers apply their own.
const maxRequestBody = 10 << 20

// Runner serves a local stack.
type Runner struct {
	Local    *stack.Local
	Verifier devjwt.Verifier
	Log      *slog.Logger
	// Clock is the time every function reads (wire.Env.Now).
	Clock *Clock
	// RetryDelay, when > 0, is how long a failed SQS message stays invisible
	// before it is redelivered, instead of the queue's visibility timeout
	// (0, the default, leaves it to the queue, as Lambda does). Set it
	// before Start or Serve.
	RetryDelay time.Duration
	// OnExchange, if set, is called with every event a handler answered and
	// its response; tests check them against the API contract (apispec.Check).
	OnExchange func(events.APIGatewayV2HTTPRequest, events.APIGatewayV2HTTPResponse)
	// Register, if set, is the fake population register the functions
	// read; the admin route /_local/register/events adds events to it.
	Register  *fakenhn.Register
	routes    []route
	consumers []consumer
	schedules []schedule
	pollers   pollers
}

type route struct {
	stack.Route
	Function string
	Handler  wire.HTTPHandler
}

// New builds every function of the stack with the registry's builders, the
// template's environment and clock.Now as its time (a nil clock is real
// time). A function missing from the registry is an error, so the template
// and the runner cannot drift apart; so is a handler whose type does not fit
// the function's events (HttpApi, SQS, Schedule).
func New(local *stack.Local, reg map[string]Builder, verifier devjwt.Verifier, fnLog io.Writer, log *slog.Logger, clock *Clock) (*Runner, error) {
	if clock == nil {
		clock = NewClock(nil)
	}
	r := &Runner{Local: local, Verifier: verifier, Log: log, Clock: clock}
	for _, f := range local.Resolved.Functions {
		build, ok := reg[f.LogicalID]
		if !ok {
			return nil, fmt.Errorf("function %s is in template.yaml but not in the local registry", f.LogicalID)
		}
		h, err := build(wire.Env{AWS: local.AWS, Getenv: local.Getenv(f), Log: fnLog, Now: clock.Now})
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", f.LogicalID, err)
		}
		if len(f.Routes) > 0 {
			hh, ok := h.(wire.HTTPHandler)
			if !ok {
				return nil, fmt.Errorf("function %s has HttpApi events but its handler is %T", f.LogicalID, h)
			}
			for _, rt := range f.Routes {
				if isAdminPath(rt.Path) {
					return nil, fmt.Errorf("function %s: route %s is under %s, which the local runner keeps for itself", f.LogicalID, rt.Key(), adminPrefix)
				}
				r.routes = append(r.routes, route{Route: rt, Function: f.LogicalID, Handler: hh})
			}
		}
		if err := r.addConsumers(f, h); err != nil {
			return nil, err
		}
		if err := r.addSchedules(f, h); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(r.routes, func(a, b route) int { return strings.Compare(a.Path+a.Method, b.Path+b.Method) })
	return r, nil
}

// Routes lists the served routes as "METHOD /path  Function".
func (r *Runner) Routes() []string {
	out := make([]string, 0, len(r.routes))
	for _, rt := range r.routes {
		out = append(out, fmt.Sprintf("%-7s %-28s %s", rt.Method, rt.Path, rt.Function))
	}
	return out
}

// ServeHTTP turns an HTTP request into an API Gateway event, authorizes it
// as the JWT authorizer would, and writes the handler's response.
func (r *Runner) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if isAdminPath(req.URL.Path) {
		r.serveAdmin(w, req)
		return
	}
	rt, params, allowed := r.match(req.Method, req.URL.Path)
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "The method is not allowed here.")
			return
		}
		problem(w, http.StatusNotFound, "route_not_found", "No such route.")
		return
	}
	ev, status := r.event(req, rt, params)
	if status != 0 {
		switch status {
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer`)
			problem(w, status, "unauthorized", "A valid bearer token is required.")
		case http.StatusForbidden:
			problem(w, status, "insufficient_scope", "The token lacks the scope this route needs.")
		case http.StatusRequestEntityTooLarge:
			problem(w, status, "body_too_large", "The request body is too large.")
		default:
			problem(w, status, "bad_request", "The request could not be read.")
		}
		return
	}
	ctx := lambdacontext.NewContext(req.Context(), &lambdacontext.LambdaContext{AwsRequestID: ev.RequestContext.RequestID})
	resp, err := rt.Handler(ctx, ev)
	if err != nil {
		// API Gateway answers 500 when the integration fails.
		r.Log.Error("handler returned an error", "function", rt.Function, "route", rt.Key(), "err", err)
		problem(w, http.StatusInternalServerError, "internal_error", "Internal Server Error")
		return
	}
	if r.OnExchange != nil {
		r.OnExchange(ev, resp)
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		body, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	w.Header().Set("Apigw-Requestid", ev.RequestContext.RequestID)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func (r *Runner) match(method, path string) (*route, map[string]string, []string) {
	var allowed []string
	for i := range r.routes {
		rt := &r.routes[i]
		params, ok := matchPath(rt.Path, path)
		if !ok {
			continue
		}
		if rt.Method == method || rt.Method == "ANY" {
			return rt, params, nil
		}
		allowed = append(allowed, rt.Method)
	}
	return nil, nil, allowed
}

// matchPath matches a path against a route template as API Gateway does:
// {name} takes one segment, a final {name+} takes the rest of the path.
func matchPath(tmpl, path string) (map[string]string, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	params := map[string]string{}
	if last := ts[len(ts)-1]; strings.HasSuffix(last, "+}") && len(ps) >= len(ts) {
		rest := strings.Join(ps[len(ts)-1:], "/")
		if rest == "" {
			return nil, false
		}
		params[strings.Trim(last, "{}+")] = rest
		ts, ps = ts[:len(ts)-1], ps[:len(ts)-1]
	}
	if len(ts) != len(ps) {
		return nil, false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[strings.Trim(t, "{}+")] = ps[i]
			continue
		}
		if t != ps[i] {
			return nil, false
		}
	}
	return params, true
}

// event builds the payload-2.0 event; a non-zero status means reject.
func (r *Runner) event(req *http.Request, rt *route, params map[string]string) (events.APIGatewayV2HTTPRequest, int) {
	now := time.Now().UTC()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       rt.Key(),
		RawPath:        req.URL.Path,
		RawQueryString: req.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Key(), AccountID: "123456789012", APIID: "local", Stage: "$default",
			RequestID: newRequestID(), DomainName: req.Host, DomainPrefix: "local",
			Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: sourceIP(req), UserAgent: req.UserAgent(),
			},
		},
	}
	if len(params) > 0 {
		ev.PathParameters = params
	}
	for k, vs := range req.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	for _, c := range req.Cookies() {
		ev.Cookies = append(ev.Cookies, c.String())
	}
	if q := req.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if !rt.Public {
		v, err := r.Verifier.Verify(req.Header.Get("Authorization"))
		if err != nil {
			r.Log.Info("token rejected", "route", rt.Key(), "reason", err.Error())
			return ev, http.StatusUnauthorized
		}
		if len(rt.Scopes) > 0 && !v.HasAnyScope(rt.Scopes) {
			return ev, http.StatusForbidden
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: v.Claims, Scopes: v.Scopes},
		}
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
	if err != nil {
		return ev, http.StatusBadRequest
	}
	if len(body) > maxRequestBody {
		return ev, http.StatusRequestEntityTooLarge
	}
	if len(body) > 0 {
		if isText(req.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev, 0
}

// isText mirrors API Gateway: text types are passed as is, others base64.
func isText(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || mt == "application/x-www-form-urlencoded"
}

func sourceIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "local-" + hex.EncodeToString(b[:])
}

func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(httpapi.Problem{
		Type: httpapi.ProblemTypeBase + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code,
	})
}

// Serve serves on l and runs the queue pollers (unless Start already has)
// until ctx ends, then shuts down gracefully and waits for the pollers it
// started.
func (r *Runner) Serve(ctx context.Context, l net.Listener) error {
	pctx, stopPollers := context.WithCancel(ctx)
	owned, err := r.startOwned(pctx)
	if err != nil {
		stopPollers()
		return err
	}
	defer func() {
		stopPollers()
		if owned {
			r.Wait()
		}
	}()
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		return err
	}
}
