package localrun_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"privacycore/infra/localrun"
	"privacycore/shared/wire"
)

// triggerAnswer is the body of a successful POST /_local/schedules/{Function}.
type triggerAnswer = localrun.TriggerResult

type problemDetail struct {
	problemBody
	Detail string `json:"detail"`
}

// adminDo sends a request with an optional edit (headers, Host) and reads the answer.
func adminDo(t *testing.T, method, url string, edit func(*http.Request)) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var r reply
	r.Status, r.Header = resp.StatusCode, resp.Header
	dec := json.NewDecoder(resp.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, url, err)
	}
	r.Body = raw
	return r
}

func TestTrigger(t *testing.T) {
	f := newFixture(t, 0)
	srv := serve(t, f.runner)

	t.Run("Runner.Trigger", func(t *testing.T) {
		tests := []struct {
			name      string
			function  string
			wantIs    error  // errors.Is
			wantErr   string // substring; "" for success
			wantSweep int    // SweeperFunction runs afterwards
		}{
			{"scheduled function runs", "SweeperFunction", nil, "", 1},
			{"and again", "SweeperFunction", nil, "", 2},
			{"handler error is returned", "FailingSweeperFunction", nil, "FailingSweeperFunction: boom: the sweep failed", 2},
			{"unknown function", "NoSuchFunction", localrun.ErrUnknownFunction, `no such scheduled function: "NoSuchFunction" is not a function of the template`, 2},
			{"function without a schedule", "WorkerFunction", localrun.ErrUnknownFunction, "no such scheduled function: WorkerFunction has no Schedule", 2},
			{"route function", "HelloFunction", localrun.ErrUnknownFunction, "HelloFunction has no Schedule", 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := f.runner.Trigger(context.Background(), tt.function)
				switch {
				case tt.wantErr == "" && err != nil:
					t.Fatalf("Trigger(%s): %v", tt.function, err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Fatalf("Trigger(%s): got error %v, want one containing %q", tt.function, err, tt.wantErr)
				case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
					t.Fatalf("Trigger(%s): got %v, want errors.Is %v", tt.function, err, tt.wantIs)
				}
				if got := len(f.sweep.all()); got != tt.wantSweep {
					t.Errorf("SweeperFunction runs: got %d, want %d", got, tt.wantSweep)
				}
				// The fake says which run it was: the result is the function's own.
				if want := (wire.ScheduleResult{"run": tt.wantSweep}); tt.wantErr == "" && !maps.Equal(res, want) {
					t.Errorf("result: got %v, want %v", res, want)
				}
			})
		}
		for _, r := range f.sweep.all() {
			if !strings.HasPrefix(r.RequestID, "local-") {
				t.Errorf("run request id: got %q, want a local- id", r.RequestID)
			}
		}
	})

	t.Run("POST /_local/schedules/{Function}", func(t *testing.T) {
		crossSite := func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		tests := []struct {
			name       string
			method     string
			function   string
			edit       func(*http.Request)
			wantStatus int
			wantCode   string // problem code; "" for success
			wantDetail string // substring of the problem's detail
			wantAllow  string
			wantRuns   int // new SweeperFunction runs
		}{
			{"runs the function", "POST", "SweeperFunction", nil, 200, "", "", "", 1},
			{"unknown function", "POST", "NoSuchFunction", nil, 404, "unknown_function", `no such scheduled function: "NoSuchFunction" is not a function of the template`, "", 0},
			{"function without a schedule", "POST", "WorkerFunction", nil, 404, "unknown_function", "no Schedule", "", 0},
			{"handler error", "POST", "FailingSweeperFunction", nil, 500, "handler_failed", "boom: the sweep failed", "", 0},
			{"GET is not allowed", "GET", "SweeperFunction", nil, 405, "method_not_allowed", "", "POST", 0},
			{"cross-site browser request", "POST", "SweeperFunction", crossSite, 403, "cross_origin_request", "", "", 0},
			{"non-loopback Host", "POST", "SweeperFunction", func(r *http.Request) { r.Host = "evil.example" }, 403, "non_loopback_host", "", "", 0},
			{"empty function", "POST", "", nil, 404, "route_not_found", "", "", 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(f.sweep.all())
				r := adminDo(t, tt.method, srv.URL+"/_local/schedules/"+tt.function, tt.edit)
				if r.Status != tt.wantStatus {
					t.Fatalf("status: got %d, want %d (body %s)", r.Status, tt.wantStatus, r.Body)
				}
				runs := f.sweep.all()[before:]
				if len(runs) != tt.wantRuns {
					t.Fatalf("SweeperFunction runs: got %d, want %d", len(runs), tt.wantRuns)
				}
				if tt.wantCode == "" {
					var got triggerAnswer
					if err := json.Unmarshal(r.Body, &got); err != nil {
						t.Fatal(err)
					}
					want := triggerAnswer{Function: tt.function, OK: true, RequestID: runs[0].RequestID, Result: wire.ScheduleResult{"run": before + 1}}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("answer: got %+v, want %+v", got, want)
					}
					return
				}
				var p problemDetail
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Code != tt.wantCode || p.Status != tt.wantStatus || !strings.Contains(p.Detail, tt.wantDetail) {
					t.Errorf("problem: got %+v, want code %q, status %d, detail containing %q", p, tt.wantCode, tt.wantStatus, tt.wantDetail)
				}
				if got := r.Header.Get("Content-Type"); got != "application/problem+json" {
					t.Errorf("Content-Type: got %q, want application/problem+json", got)
				}
				if got := r.Header.Get("Allow"); got != tt.wantAllow {
					t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
				}
			})
		}
	})
}

// TestClockRoutes moves the runner's clock through the admin routes; the
// steps run in order, each on the clock the previous ones left.
func TestClockRoutes(t *testing.T) {
	f := newFixture(t, 0)
	srv := serve(t, f.runner)
	steps := []struct {
		name       string
		method     string
		query      string
		wantStatus int
		wantCode   string
		wantDetail string
		wantOffset time.Duration // after the step
	}{
		{"read", "GET", "", 200, "", "", 0},
		{"advance 720h", "POST", "advance=720h", 200, "", "", 720 * time.Hour},
		{"days=30 adds 30 days more", "POST", "days=30", 200, "", "", 1440 * time.Hour},
		{"advance 0s changes nothing", "POST", "advance=0s", 200, "", "", 1440 * time.Hour},
		{"negative advance", "POST", "advance=-1h", 400, "invalid_advance", "only moves forward", 1440 * time.Hour},
		{"negative days", "POST", "days=-1", 400, "invalid_advance", "only moves forward", 1440 * time.Hour},
		{"garbage advance", "POST", "advance=soon", 400, "invalid_advance", "not a Go duration", 1440 * time.Hour},
		{"days as a duration", "POST", "days=30d", 400, "invalid_advance", "not a whole number", 1440 * time.Hour},
		{"fractional days", "POST", "days=1.5", 400, "invalid_advance", "not a whole number", 1440 * time.Hour},
		{"both", "POST", "advance=1h&days=1", 400, "invalid_advance", "not both", 1440 * time.Hour},
		{"neither", "POST", "", 400, "invalid_advance", "say how far", 1440 * time.Hour},
		{"beyond 100 years", "POST", "days=36500", 400, "invalid_advance", "ahead of real time", 1440 * time.Hour},
		{"GET ignores advance", "GET", "advance=1h", 200, "", "", 1440 * time.Hour},
		{"DELETE is not allowed", "DELETE", "", 405, "method_not_allowed", "", 1440 * time.Hour},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := adminDo(t, s.method, srv.URL+"/_local/clock?"+s.query, nil)
			if r.Status != s.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", r.Status, s.wantStatus, r.Body)
			}
			if s.wantCode != "" {
				var p problemDetail
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Code != s.wantCode || !strings.Contains(p.Detail, s.wantDetail) {
					t.Errorf("problem: got %+v, want code %q, detail containing %q", p, s.wantCode, s.wantDetail)
				}
			} else {
				var st localrun.ClockState
				if err := json.Unmarshal(r.Body, &st); err != nil {
					t.Fatal(err)
				}
				checkClock(t, st, s.wantOffset)
			}
			if got := f.clock.Offset(); got != s.wantOffset {
				t.Errorf("clock offset after the step: got %s, want %s", got, s.wantOffset)
			}
		})
	}
}

// checkClock checks a ClockState against real time plus want.
func checkClock(t *testing.T, st localrun.ClockState, want time.Duration) {
	t.Helper()
	if st.Offset != want.String() {
		t.Errorf("offset: got %q, want %q", st.Offset, want.String())
	}
	now, err := time.Parse(time.RFC3339, st.Now)
	if err != nil {
		t.Fatalf("now %q is not RFC 3339: %v", st.Now, err)
	}
	if d := now.Sub(time.Now().Add(want)); d.Abs() > 5*time.Second {
		t.Errorf("now: got %s, %s away from real time + %s", st.Now, d, want)
	}
}

// TestFunctionsSeeTheClock checks that every function, whatever its kind,
// is built with the runner's clock, and that a triggered sweep sees it.
func TestFunctionsSeeTheClock(t *testing.T) {
	f := newFixture(t, 0)
	srv := serve(t, f.runner)
	if r := adminDo(t, "POST", srv.URL+"/_local/clock?advance=720h", nil); r.Status != 200 {
		t.Fatalf("advance: got %d %s", r.Status, r.Body)
	}
	want := time.Now().Add(720 * time.Hour)
	tests := []struct {
		name string
		now  func() time.Time
	}{
		{"WorkerFunction (SQS)", f.work.env.Now},
		{"PlainWorkerFunction (SQS)", f.plain.env.Now},
		{"SweeperFunction (schedule)", f.sweep.env.Now},
		{"HelloFunction (HttpApi)", f.helloEnv.Now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.now == nil {
				t.Fatal("built without Env.Now")
			}
			if d := tt.now().Sub(want); d.Abs() > 5*time.Second {
				t.Errorf("Env.Now: got %s, want about %s (off by %s)", tt.now(), want, d)
			}
		})
	}
	t.Run("a triggered sweep runs 30 days ahead", func(t *testing.T) {
		if r := adminDo(t, "POST", srv.URL+"/_local/schedules/SweeperFunction", nil); r.Status != 200 {
			t.Fatalf("trigger: got %d %s", r.Status, r.Body)
		}
		runs := f.sweep.all()
		if len(runs) != 1 {
			t.Fatalf("runs: got %d, want 1", len(runs))
		}
		if d := runs[0].Now.Sub(time.Now().Add(720 * time.Hour)); d.Abs() > 5*time.Second {
			t.Errorf("Env.Now during the run: got %s, off by %s from real time + 720h", runs[0].Now, d)
		}
	})
}

func TestAdminIndex(t *testing.T) {
	f := newFixture(t, 0)
	srv := serve(t, f.runner)
	if _, err := f.clock.Advance(48 * time.Hour); err != nil {
		t.Fatal(err)
	}
	arn := func(id string) string { return "arn:aws:sqs:eu-north-1:123456789012:" + f.queueName(t, id) }
	url := func(id string) string { return f.queueURL(t, id) }
	want := localrun.Index{
		Emulator: f.local.Server.Endpoint,
		Tables:   map[string]string{}, // the fixture's template has none; the README walk-throughs read the real ones
		Routes:   []localrun.RouteInfo{{Method: "GET", Path: "/hello", Function: "HelloFunction"}},
		Queues: []localrun.QueueInfo{
			{LogicalID: "WorkQueue", Name: f.queueName(t, "WorkQueue"), URL: url("WorkQueue"), ARN: arn("WorkQueue"), DeadLetterQueue: "WorkDeadLetterQueue",
				Consumers: []localrun.ConsumerInfo{{Function: "WorkerFunction", Event: "Work", BatchSize: 10, ReportItemFailures: true}}},
			{LogicalID: "WorkDeadLetterQueue", Name: f.queueName(t, "WorkDeadLetterQueue"), URL: url("WorkDeadLetterQueue"), ARN: arn("WorkDeadLetterQueue"), Consumers: []localrun.ConsumerInfo{}},
			{LogicalID: "PlainQueue", Name: f.queueName(t, "PlainQueue"), URL: url("PlainQueue"), ARN: arn("PlainQueue"), DeadLetterQueue: "PlainDeadLetterQueue",
				Consumers: []localrun.ConsumerInfo{{Function: "PlainWorkerFunction", Event: "Plain", BatchSize: 25}}},
			{LogicalID: "PlainDeadLetterQueue", Name: f.queueName(t, "PlainDeadLetterQueue"), URL: url("PlainDeadLetterQueue"), ARN: arn("PlainDeadLetterQueue"), Consumers: []localrun.ConsumerInfo{}},
		},
		Schedules: []localrun.ScheduleInfo{
			{Function: "SweeperFunction", Event: "Sweep", Expression: "cron(0 3 * * ? *)", Timezone: "Europe/Oslo", Trigger: "POST /_local/schedules/SweeperFunction"},
			{Function: "FailingSweeperFunction", Event: "Hourly", Expression: "rate(1 hour)", Trigger: "POST /_local/schedules/FailingSweeperFunction"},
		},
	}
	for _, path := range []string{"/_local/", "/_local"} {
		t.Run("GET "+path, func(t *testing.T) {
			r := adminDo(t, "GET", srv.URL+path, nil)
			if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %s, want 200 application/json", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
			var got localrun.Index
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatal(err)
			}
			checkClock(t, got.Clock, 48*time.Hour)
			got.Clock = localrun.ClockState{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}

	others := []struct {
		name, method, path string
		wantStatus         int
		wantCode           string
	}{
		{"unknown admin path", "GET", "/_local/nope", 404, "route_not_found"},
		{"schedules without a function", "POST", "/_local/schedules/", 404, "route_not_found"},
		{"nested path under a schedule", "POST", "/_local/schedules/SweeperFunction/x", 404, "route_not_found"},
		{"POST to the index", "POST", "/_local/", 405, "method_not_allowed"},
		{"template routes still served", "GET", "/hello", 200, ""},
	}
	for _, tt := range others {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, srv.URL+tt.path, nil, nil)
			if r.Status != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", r.Status, tt.wantStatus, r.Body)
			}
			if tt.wantCode == "" {
				return
			}
			var p problemBody
			if err := json.Unmarshal(r.Body, &p); err != nil || p.Code != tt.wantCode {
				t.Errorf("problem: got %+v (%v), want code %q", p, err, tt.wantCode)
			}
		})
	}
	if got := len(f.sweep.all()); got != 0 {
		t.Errorf("SweeperFunction runs: got %d, want 0", got)
	}
}
