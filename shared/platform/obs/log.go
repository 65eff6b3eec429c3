// Package obs provides structured logging for the Lambda functions: JSON
// lines with the keys Lambda Powertools puts on every line (service,
// function_name, function_request_id, cold_start, xray_trace_id), and a last
// line of defence that masks anything shaped like a person id before it is
// written.
package obs

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// DefaultService is the service name when POWERTOOLS_SERVICE_NAME is unset.
const DefaultService = "privacycore"

// Function names the function a logger writes for: the service (the
// application, POWERTOOLS_SERVICE_NAME as in Lambda Powertools) and the
// function's name (AWS_LAMBDA_FUNCTION_NAME, set by Lambda; the local
// runner sets it too).
type Function struct {
	Service string
	Name    string
}

// FunctionFromEnv reads the function's names from its environment.
func FunctionFromEnv(getenv func(string) string) Function {
	f := Function{Service: getenv("POWERTOOLS_SERVICE_NAME"), Name: getenv("AWS_LAMBDA_FUNCTION_NAME")}
	if f.Service == "" {
		f.Service = DefaultService
	}
	return f
}

// NewFunctionLogger returns a function's JSON logger writing to w: every
// line carries service and function_name; a line logged within an
// invocation (a context with the Lambda context) also carries
// function_request_id, cold_start (true on the function's first invocation
// in this process) and xray_trace_id (the trace's root id, when traced).
// Every string is passed through Redact, as with NewLogger.
func NewFunctionLogger(w io.Writer, level slog.Leveler, fn Function) *slog.Logger {
	if fn.Service == "" {
		fn.Service = DefaultService
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	attrs := []slog.Attr{slog.String("service", fn.Service)}
	if fn.Name != "" {
		attrs = append(attrs, slog.String("function_name", fn.Name))
	}
	return slog.New(contextHandler{Handler: h.WithAttrs(attrs), fn: &fn})
}

// ColdStart reports whether requestID is the first invocation of the named
// function in this process (the first one asked about). In Lambda a
// process serves one function; the local runner serves all of them, so the
// answer is kept per function name.
func ColdStart(function, requestID string) bool {
	coldStarts.mu.Lock()
	defer coldStarts.mu.Unlock()
	first, seen := coldStarts.first[function]
	if !seen {
		coldStarts.first[function] = requestID
		return true
	}
	return first == requestID
}

var coldStarts = struct {
	mu    sync.Mutex
	first map[string]string // function name → its first request id
}{first: map[string]string{}}

// lambdaTraceKey is where aws-lambda-go puts the invocation's trace header.
const lambdaTraceKey = "x-amzn-trace-id"

// TraceID returns the X-Ray trace id of the invocation ("1-5759e988-…"),
// from the trace header on ctx (or _X_AMZN_TRACE_ID), or "".
func TraceID(ctx context.Context) string {
	h, _ := ctx.Value(lambdaTraceKey).(string)
	if h == "" {
		h = os.Getenv("_X_AMZN_TRACE_ID")
	}
	for _, part := range strings.Split(h, ";") {
		if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "Root" {
			return v
		}
	}
	return ""
}

// Mask replaces the digits of every standalone run of exactly 11 digits.
const Mask = "[masked]"

// NewLogger returns a JSON logger writing to w, for tools (the local
// runner's own log). Every record carries the Lambda request id
// (requestId) when the context has one, and every string (message and
// attribute values, errors included) is passed through Redact. Functions
// use NewFunctionLogger.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	return slog.New(contextHandler{Handler: h})
}

// ParseLevel maps "debug", "info", "warn" and "error" to a level; anything
// else is info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// contextHandler adds the invocation's keys from the context; fn is nil
// for a tool's logger.
type contextHandler struct {
	slog.Handler
	fn *Function
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	lc, ok := lambdacontext.FromContext(ctx)
	switch {
	case !ok || lc.AwsRequestID == "":
	case h.fn == nil:
		out.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	default:
		out.AddAttrs(slog.String("function_request_id", lc.AwsRequestID), slog.Bool("cold_start", ColdStart(h.fn.Name, lc.AwsRequestID)))
		if id := TraceID(ctx); id != "" {
			out.AddAttrs(slog.String("xray_trace_id", id))
		}
	}
	return h.Handler.Handle(ctx, out)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as), h.fn}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name), h.fn}
}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Redact(a.Value.String()))
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			a.Value = slog.StringValue(Redact(v.Error()))
		case interface{ String() string }:
			a.Value = slog.StringValue(Redact(v.String()))
		case []byte:
			a.Value = slog.StringValue(Redact(string(v)))
		}
	}
	return a
}

// Redact masks every standalone run of exactly 11 digits, the shape of a
// Norwegian person id, whether or not its control digits are valid.
func Redact(s string) string {
	if len(s) < 11 {
		return s
	}
	var b strings.Builder
	last, run := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		if run == 11 {
			b.WriteString(s[last : i-11])
			b.WriteString(Mask)
			last = i
		}
		run = 0
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
