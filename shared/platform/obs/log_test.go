package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"privacycore/shared/domain/nin"
	"privacycore/shared/platform/obs"
)

const pid = "14838500073"

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestPersonIDNeverReachesTheLog(t *testing.T) {
	id, err := nin.Parse(pid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("looking up " + pid) }},
		{"string attr", func(l *slog.Logger) { l.Info("x", "who", pid) }},
		{"error attr", func(l *slog.Logger) { l.Error("x", "err", fmt.Errorf("get person %s: %w", pid, errors.New("boom"))) }},
		{"stringer attr", func(l *slog.Logger) { l.Info("x", "v", stringer{"id=" + pid}) }},
		{"bytes attr", func(l *slog.Logger) { l.Info("x", "raw", []byte(`{"pid":"`+pid+`"}`)) }},
		{"nin.ID attr", func(l *slog.Logger) { l.Info("x", "id", id) }},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("req", "body", `{"pid":"`+pid+`"}`)) }},
		{"WithAttrs", func(l *slog.Logger) { l.With("pid", pid).Info("x") }},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("g").Info("x", "pid", pid) }},
		{"formatted message", func(l *slog.Logger) { l.Info(fmt.Sprintf("token for %s rejected", pid)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(obs.NewLogger(&buf, slog.LevelDebug))
			out := buf.String()
			if strings.Contains(out, pid) {
				t.Errorf("log holds the person id: %s", out)
			}
			if !json.Valid(bytes.TrimSpace([]byte(out))) {
				t.Errorf("not one JSON line: %s", out)
			}
		})
	}
}

func TestRequestIDFromLambdaContext(t *testing.T) {
	var buf bytes.Buffer
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	obs.NewLogger(&buf, nil).InfoContext(ctx, "hello", "n", 1)
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["requestId"] != "req-123" || got["msg"] != "hello" || got["n"] != 1.0 {
		t.Errorf("got %v, want requestId req-123, msg hello, n 1", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no digits here at all", "no digits here at all"},
		{pid, obs.Mask},
		{"a " + pid + " b", "a " + obs.Mask + " b"},
		{pid + "," + pid, obs.Mask + "," + obs.Mask},
		{"1234567890", "1234567890"},                             // 10 digits: not an id
		{"123456789012", "123456789012"},                         // 12 digits: not an id
		{"version 3 of 14838500074", "version 3 of " + obs.Mask}, // masked even with a bad control digit
	}
	for _, tt := range tests {
		if got := obs.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
	}{{"debug", slog.LevelDebug}, {"INFO", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}, {"", slog.LevelInfo}, {"loud", slog.LevelInfo}}
	for _, tt := range tests {
		if got := obs.ParseLevel(tt.in); got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestFunctionLoggerKeys: a function's log lines carry the keys Lambda
// Powertools puts on every line; cold_start is true only on the function's
// first invocation in the process.
func TestFunctionLoggerKeys(t *testing.T) {
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	invoke := func(id string, traced bool) context.Context {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
		if traced {
			//lint:ignore SA1029 aws-lambda-go's key is this string
			ctx = context.WithValue(ctx, "x-amzn-trace-id", trace)
		}
		return ctx
	}
	var buf bytes.Buffer
	fn := obs.FunctionFromEnv(envOf(map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "privacycore-dev-TestFunctionLoggerKeys"}))
	log := obs.NewFunctionLogger(&buf, nil, fn)
	log.Info("built")                                 // construction: no invocation
	log.InfoContext(invoke("req-1", true), "first")   // the cold start
	log.InfoContext(invoke("req-1", true), "again")   // same invocation: still cold
	log.InfoContext(invoke("req-2", false), "second") // warm, not traced
	log.With("k", "v").InfoContext(invoke("req-3", false), "derived")

	tests := []map[string]any{
		{"msg": "built", "service": "privacycore", "function_name": "privacycore-dev-TestFunctionLoggerKeys"},
		{"msg": "first", "service": "privacycore", "function_name": "privacycore-dev-TestFunctionLoggerKeys", "function_request_id": "req-1", "cold_start": true, "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793"},
		{"msg": "again", "service": "privacycore", "function_name": "privacycore-dev-TestFunctionLoggerKeys", "function_request_id": "req-1", "cold_start": true, "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793"},
		{"msg": "second", "service": "privacycore", "function_name": "privacycore-dev-TestFunctionLoggerKeys", "function_request_id": "req-2", "cold_start": false},
		{"msg": "derived", "service": "privacycore", "function_name": "privacycore-dev-TestFunctionLoggerKeys", "function_request_id": "req-3", "cold_start": false, "k": "v"},
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tests), buf.String())
	}
	for i, want := range tests {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		delete(got, "time")
		delete(got, "level")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("line %d:\ngot  %v\nwant %v", i+1, got, want)
		}
	}
}

func TestFunctionFromEnv(t *testing.T) {
	got := obs.FunctionFromEnv(envOf(map[string]string{"POWERTOOLS_SERVICE_NAME": "portal-privacy", "AWS_LAMBDA_FUNCTION_NAME": "f"}))
	if want := (obs.Function{Service: "portal-privacy", Name: "f"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := obs.FunctionFromEnv(func(string) string { return "" }); got.Service != obs.DefaultService {
		t.Errorf("no POWERTOOLS_SERVICE_NAME: service %q, want %q", got.Service, obs.DefaultService)
	}
}

func TestColdStartPerFunction(t *testing.T) {
	tests := []struct {
		function, request string
		want              bool
	}{
		{"TestColdStartPerFunction-a", "1", true},
		{"TestColdStartPerFunction-a", "1", true}, // asked again within the first invocation
		{"TestColdStartPerFunction-a", "2", false},
		{"TestColdStartPerFunction-b", "3", true}, // another function in the same process (the local runner)
		{"TestColdStartPerFunction-b", "1", false},
	}
	for _, tt := range tests {
		if got := obs.ColdStart(tt.function, tt.request); got != tt.want {
			t.Errorf("ColdStart(%s, %s) = %v, want %v", tt.function, tt.request, got, tt.want)
		}
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
