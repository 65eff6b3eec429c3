package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/platform/metrics"
)

var t0 = time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)

// emf is one EMF line, decoded.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Fields map[string]any `json:"-"`
}

// capture returns an emitter writing to a buffer, and a function that
// decodes every line written so far.
func capture(t *testing.T) (*metrics.Emitter, *bytes.Buffer, func() []emf) {
	t.Helper()
	var out, logs bytes.Buffer
	e := metrics.New(&out, "PrivacyCore/test", slog.New(slog.NewJSONHandler(&logs, nil))).WithClock(func() time.Time { return t0 })
	return e, &logs, func() []emf {
		t.Helper()
		var got []emf
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if line == "" {
				continue
			}
			var m emf
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q is not JSON: %v", line, err)
			}
			if err := json.Unmarshal([]byte(line), &m.Fields); err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
		return got
	}
}

type metric struct {
	Name, Unit string
	Value      float64
}

// point is what a test expects of one EMF line.
type point struct {
	dims    map[string]string
	metrics []metric
}

// check compares an EMF line with want, and checks what every line must
// satisfy: our namespace, one dimension set whose members are all present,
// no dimension value shaped like a person id or key.
func check(t *testing.T, got emf, want point) {
	t.Helper()
	if n := len(got.AWS.CloudWatchMetrics); n != 1 {
		t.Fatalf("got %d CloudWatchMetrics directives, want 1", n)
	}
	d := got.AWS.CloudWatchMetrics[0]
	if d.Namespace != "PrivacyCore/test" {
		t.Errorf("namespace: got %q, want %q", d.Namespace, "PrivacyCore/test")
	}
	if got.AWS.Timestamp != t0.UnixMilli() {
		t.Errorf("timestamp: got %d, want %d", got.AWS.Timestamp, t0.UnixMilli())
	}
	if len(d.Dimensions) != 1 {
		t.Fatalf("got %d dimension sets, want 1", len(d.Dimensions))
	}
	if len(d.Dimensions[0]) == 0 {
		t.Errorf("got a data point without dimensions; every metric here has at least one")
	}
	gotDims := map[string]string{}
	for _, name := range d.Dimensions[0] {
		v, ok := got.Fields[name].(string)
		if !ok {
			t.Errorf("dimension %s has no string value in the line", name)
		}
		if pidShape.MatchString(v) || keyShape.MatchString(v) {
			t.Errorf("dimension %s = %q looks like a person id or key", name, v)
		}
		gotDims[name] = v
	}
	if len(gotDims) != len(want.dims) {
		t.Errorf("dimensions: got %v, want %v", gotDims, want.dims)
	}
	for k, v := range want.dims {
		if gotDims[k] != v {
			t.Errorf("dimension %s: got %q, want %q", k, gotDims[k], v)
		}
	}
	var gotMetrics []metric
	for _, m := range d.Metrics {
		v, _ := got.Fields[m.Name].(float64)
		gotMetrics = append(gotMetrics, metric{m.Name, m.Unit, v})
	}
	if !slices.Equal(gotMetrics, want.metrics) {
		t.Errorf("metrics: got %v, want %v", gotMetrics, want.metrics)
	}
}

var (
	pidShape = regexp.MustCompile(`[0-9]{11}`)
	keyShape = regexp.MustCompile(`[0-9a-f]{64}`)
)

func TestHelpersWriteEMF(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		emit func(e *metrics.Emitter)
		want point
	}{
		{"request", func(e *metrics.Emitter) { e.Request(ctx, "PUT /v1/consent", 200, 12500*time.Microsecond) },
			point{map[string]string{"Service": "privacycore", "Route": "PUT /v1/consent", "StatusClass": "2xx"}, []metric{{"Requests", "Count", 1}, {"Latency", "Milliseconds", 12.5}}}},
		{"client error", func(e *metrics.Emitter) { e.Request(ctx, "GET /v1/consent", 404, time.Millisecond) },
			point{map[string]string{"Service": "privacycore", "Route": "GET /v1/consent", "StatusClass": "4xx"}, []metric{{"Requests", "Count", 1}, {"Latency", "Milliseconds", 1}}}},
		{"decision allowed", func(e *metrics.Emitter) { e.Decision(ctx, true, "allowed") },
			point{map[string]string{"Service": "privacycore", "Outcome": "allowed", "Rule": "allowed"}, []metric{{"Decisions", "Count", 1}}}},
		{"decision denied", func(e *metrics.Emitter) { e.Decision(ctx, false, "no_consent") },
			point{map[string]string{"Service": "privacycore", "Outcome": "denied", "Rule": "no_consent"}, []metric{{"Decisions", "Count", 1}}}},
		{"consent set", func(e *metrics.Emitter) { e.Consent(ctx, "set", "basic_plus") },
			point{map[string]string{"Service": "privacycore", "Action": "set", "Level": "basic_plus"}, []metric{{"ConsentChanges", "Count", 1}}}},
		{"consent withdrawn", func(e *metrics.Emitter) { e.Consent(ctx, "withdraw", "") },
			point{map[string]string{"Service": "privacycore", "Action": "withdraw", "Level": "none"}, []metric{{"ConsentChanges", "Count", 1}}}},
		{"notice", func(e *metrics.Emitter) { e.Notice(ctx, "death", "death_recorded") },
			point{map[string]string{"Service": "privacycore", "NoticeType": "death", "Outcome": "death_recorded"}, []metric{{"Notices", "Count", 1}}}},
		{"purge", func(e *metrics.Emitter) { e.Purged(ctx, "death", 42) },
			point{map[string]string{"Service": "privacycore", "Reason": "death"}, []metric{{"Purges", "Count", 1}, {"ItemsDeleted", "Count", 42}}}},
		{"sweep", func(e *metrics.Emitter) { e.Swept(ctx, 3) },
			point{map[string]string{"Service": "privacycore", "Function": "sweeper"}, []metric{{"JobsQueued", "Count", 3}}}},
		{"overdue", func(e *metrics.Emitter) { e.Overdue(ctx, 2) },
			point{map[string]string{"Service": "privacycore", "Function": "sweeper"}, []metric{{"OverdueJobs", "Count", 2}}}},
		{"cold start", func(e *metrics.Emitter) { e.Cold(ctx, "privacycore-dev-ConsentFunction-AbCdEf") },
			point{map[string]string{"Service": "privacycore", "Function": "privacycore-dev-ConsentFunction-AbCdEf"}, []metric{{"ColdStart", "Count", 1}}}},
		{"another service", func(e *metrics.Emitter) { e.WithService("portal-privacy").Swept(ctx, 1) },
			point{map[string]string{"Service": "portal-privacy", "Function": "sweeper"}, []metric{{"JobsQueued", "Count", 1}}}},
		{"batch", func(e *metrics.Emitter) { e.Batch(ctx, "notice-worker", 10, 2) },
			point{map[string]string{"Service": "privacycore", "Function": "notice-worker"}, []metric{{"MessagesReceived", "Count", 10}, {"MessagesFailed", "Count", 2}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, lines := capture(t)
			tt.emit(e)
			got := lines()
			if len(got) != 1 {
				t.Fatalf("got %d lines, want 1", len(got))
			}
			check(t, got[0], tt.want)
		})
	}
}

// TestGuardRefusesPersonIDs tries to put person ids and keys (and other
// things outside the closed set) into dimensions: each data point must be
// dropped, replaced by a DroppedDataPoints count, and logged without the value.
func TestGuardRefusesPersonIDs(t *testing.T) {
	ctx := context.Background()
	const pid = "14838500073"
	const key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name       string
		emit       func(e *metrics.Emitter)
		wantCode   string
		wantReason string
	}{
		{"person id as rule", func(e *metrics.Emitter) { e.Decision(ctx, false, pid) }, "person_id", "value looks like a person id"},
		{"person id inside a route", func(e *metrics.Emitter) { e.Request(ctx, "GET /v1/people/"+pid, 200, 0) }, "person_id", "value looks like a person id"},
		{"person key as level", func(e *metrics.Emitter) { e.Consent(ctx, "set", key) }, "person_key", "value looks like a person key"},
		{"upper-case person key", func(e *metrics.Emitter) { e.Notice(ctx, "death", strings.ToUpper(key)) }, "person_key", "value looks like a person key"},
		{"person key in a function name", func(e *metrics.Emitter) { e.Batch(ctx, "w-"+key, 1, 0) }, "person_key", "value looks like a person key"},
		{"unknown dimension", func(e *metrics.Emitter) {
			e.Emit(ctx, []metrics.Dim{{Name: "PersonKey", Value: "x"}}, metrics.Value{Name: "X", Unit: metrics.Count, Value: 1})
		}, "unknown_dimension", "unknown dimension name"},
		{"empty value", func(e *metrics.Emitter) { e.Purged(ctx, "", 1) }, "empty_value", "empty value"},
		{"a data point's own service", func(e *metrics.Emitter) {
			e.Emit(ctx, []metrics.Dim{{Name: metrics.Service, Value: "other"}}, metrics.Value{Name: "X", Unit: metrics.Count, Value: 1})
		}, "unknown_dimension", "the emitter sets the service dimension"},
		{"person id as the service", func(e *metrics.Emitter) { e.WithService(pid).Swept(ctx, 1) }, "person_id", "value looks like a person id"},
		{"overlong value", func(e *metrics.Emitter) { e.Decision(ctx, false, strings.Repeat("x", 129)) }, "value_too_long", "value too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, logs, lines := capture(t)
			tt.emit(e)
			got := lines()
			if len(got) != 1 {
				t.Fatalf("got %d lines, want 1 (the DroppedDataPoints count)", len(got))
			}
			check(t, got[0], point{map[string]string{"Service": "privacycore", "Reason": tt.wantCode}, []metric{{"DroppedDataPoints", "Count", 1}}})
			if strings.Contains(logs.String(), pid) || strings.Contains(strings.ToLower(logs.String()), key) {
				t.Errorf("the refusal log repeats the value: %s", logs.String())
			}
			if !strings.Contains(logs.String(), tt.wantReason) {
				t.Errorf("log %q: want reason %q", logs.String(), tt.wantReason)
			}
		})
	}
}

func TestGuardAcceptsOrdinaryValues(t *testing.T) {
	// Short digit runs (status classes, dates) and short hex are not ids.
	e, _, lines := capture(t)
	e.Request(context.Background(), "DELETE /v1/powers-of-attorney/{id}", 204, 0)
	e.Notice(context.Background(), "person_id_changed", "person_id_changed")
	e.Batch(context.Background(), "privacycore-dev-PurgeWorkerFunction-1234567890", 1, 0)
	if got := len(lines()); got != 3 {
		t.Fatalf("got %d lines, want 3", got)
	}
	for _, l := range lines() {
		if l.Fields["DroppedDataPoints"] != nil {
			t.Errorf("got a dropped data point: %v", l.Fields)
		}
	}
}

func TestNilEmitterDiscards(t *testing.T) {
	var e *metrics.Emitter
	e.Decision(context.Background(), true, "allowed") // must not panic
	h := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 201}, nil
	}
	resp, err := e.HTTP(h)(context.Background(), events.APIGatewayV2HTTPRequest{})
	if err != nil || resp.StatusCode != 201 {
		t.Errorf("got %d, %v; want the handler's own 201, nil", resp.StatusCode, err)
	}
}

func TestHTTPWrapper(t *testing.T) {
	tests := []struct {
		name       string
		routeKey   string
		status     int
		err        error
		wantRoute  string
		wantStatus string
	}{
		{"declared route", "GET /v1/consent/history", 200, nil, "GET /v1/consent/history", "2xx"},
		{"path parameter stays a template", "PATCH /v1/powers-of-attorney/{id}", 412, nil, "PATCH /v1/powers-of-attorney/{id}", "4xx"},
		{"default route", "$default", 404, nil, "unmatched", "4xx"},
		{"no route key", "", 404, nil, "unmatched", "4xx"},
		{"handler error is a 500", "PUT /v1/consent", 0, errors.New("boom"), "PUT /v1/consent", "5xx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, lines := capture(t)
			h := e.HTTP(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: tt.status}, tt.err
			})
			resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: tt.routeKey, RawPath: "/v1/people/14838500073"})
			if resp.StatusCode != tt.status || !errors.Is(err, tt.err) {
				t.Errorf("wrapper changed the response: got %d, %v", resp.StatusCode, err)
			}
			got := lines()
			if len(got) != 1 {
				t.Fatalf("got %d lines, want 1", len(got))
			}
			if r, s := got[0].Fields["Route"], got[0].Fields["StatusClass"]; r != tt.wantRoute || s != tt.wantStatus {
				t.Errorf("got route %v status %v, want %q %q", r, s, tt.wantRoute, tt.wantStatus)
			}
		})
	}
}

func TestSQSWrapper(t *testing.T) {
	batch := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "a"}, {MessageId: "b"}, {MessageId: "c"}}}
	tests := []struct {
		name       string
		failures   int
		err        error
		wantFailed float64
	}{
		{"all ok", 0, nil, 0},
		{"partial failure", 2, nil, 2},
		{"error fails the batch", 0, errors.New("boom"), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, lines := capture(t)
			h := e.SQS("purge-worker", func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				var r events.SQSEventResponse
				for i := range tt.failures {
					r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: batch.Records[i].MessageId})
				}
				return r, tt.err
			})
			if _, err := h(context.Background(), batch); !errors.Is(err, tt.err) {
				t.Errorf("got error %v, want %v", err, tt.err)
			}
			got := lines()
			if len(got) != 1 {
				t.Fatalf("got %d lines, want 1", len(got))
			}
			check(t, got[0], point{map[string]string{"Service": "privacycore", "Function": "purge-worker"},
				[]metric{{"MessagesReceived", "Count", 3}, {"MessagesFailed", "Count", tt.wantFailed}}})
		})
	}
}

// TestSectorDecisionDimensions: a sector decision is counted by outcome,
// resource and rule, and never by a person id even if one were passed.
func TestSectorDecisionDimensions(t *testing.T) {
	e, _, lines := capture(t)
	e.SectorDecision(context.Background(), true, "summary_care_record", "scr_limited_emergency")
	e.SectorDecision(context.Background(), false, "prescription", "14838500073")
	got := lines()
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2", len(got))
	}
	check(t, got[0], point{map[string]string{"Service": "privacycore", "Outcome": "allowed", "Resource": "summary_care_record", "Rule": "scr_limited_emergency"},
		[]metric{{"SectorDecisions", "Count", 1}}})
	check(t, got[1], point{map[string]string{"Service": "privacycore", "Reason": "person_id"}, []metric{{"DroppedDataPoints", "Count", 1}}})
}

// TestNamesAreWhatTheHelpersWrite: metrics.Names (what the dashboard and
// alarms may name) is exactly the set of metrics the helpers write.
func TestNamesAreWhatTheHelpersWrite(t *testing.T) {
	ctx := context.Background()
	e, _, lines := capture(t)
	e.Request(ctx, "GET /v1/consent", 200, time.Millisecond)
	e.Decision(ctx, true, "allowed")
	e.SectorDecision(ctx, false, "prescription", "rx_only_gp")
	e.Consent(ctx, "set", "basic")
	e.Notice(ctx, "death", "death_recorded")
	e.Purged(ctx, "death", 1)
	e.NotDue(ctx)
	e.Swept(ctx, 1)
	e.Overdue(ctx, 0)
	e.Batch(ctx, "purge-worker", 1, 0)
	e.Cold(ctx, "f")
	e.FeedRun(ctx, 2, 1, 1, 0)
	e.FeedLag(ctx, 0)
	e.Decision(ctx, false, "14838500073") // refused: DroppedDataPoints
	written := map[string]bool{}
	for _, l := range lines() {
		for _, d := range l.AWS.CloudWatchMetrics {
			for _, m := range d.Metrics {
				written[m.Name] = true
			}
		}
	}
	if got, want := slices.Sorted(maps.Keys(written)), slices.Sorted(slices.Values(metrics.Names)); !slices.Equal(got, want) {
		t.Errorf("written %v, metrics.Names %v", got, want)
	}
}
