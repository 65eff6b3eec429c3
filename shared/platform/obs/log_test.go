package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
