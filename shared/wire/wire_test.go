package wire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"privacycore/infra/emulator"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// metricLines returns the EMF lines written so far, each as a map.
func (l *lockedBuffer) metricLines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		if !strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("EMF line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func env(t *testing.T, local *stack.Local, function string, log *lockedBuffer, now func() time.Time) wire.Env {
	t.Helper()
	fn, ok := local.Function(function)
	if !ok {
		t.Fatalf("template has no %s", function)
	}
	return wire.Env{AWS: local.AWS, Getenv: local.Getenv(fn), Log: log, Now: now}
}

const layout = "2006-01-02T15:04:05.000000000Z"

// TestSweeperReportsOverdueJobs seeds deletion jobs in every status, due
// long ago, recently and in the future, and checks the sweep's metrics:
// JobsQueued for what it sent, OverdueJobs for every job still not done a day
// after it was due, whatever its status, and nothing else.
func TestSweeperReportsOverdueJobs(t *testing.T) {
	local := testenv.New(t)
	now := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	job := func(id, status string, due time.Time) map[string]any {
		it := map[string]any{"pk": "JOB#" + id, "sk": "JOB", "jobId": id, "personKey": strings.Repeat("a", 64),
			"reason": "death", "status": status, "dueAt": due.Format(layout), "createdAt": due.Add(-30 * 24 * time.Hour).Format(layout)}
		if status == "pending" {
			it["dueBucket"] = "PENDING"
		}
		return it
	}
	longAgo, yesterday, tomorrow := now.Add(-72*time.Hour), now.Add(-2*time.Hour), now.Add(24*time.Hour)
	items := []map[string]any{
		job("pending-old", "pending", longAgo),   // overdue: the sweeper missed it for days; queued now, still overdue
		job("pending-new", "pending", yesterday), // due, not overdue
		job("pending-future", "pending", tomorrow),
		job("queued-old", "queued", longAgo),   // overdue: its message is stuck
		job("purging-old", "purging", longAgo), // overdue: the purge keeps failing
		job("done-old", "done", longAgo),
		job("cancelled-old", "cancelled", longAgo),
		// A death marker has a status and a dueAt too; it is not a job.
		{"pk": "P#" + strings.Repeat("b", 64), "sk": "DECEASED", "status": "pending", "dueAt": longAgo.Format(layout)},
	}
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := local.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: new(local.Table("PrivacyTable")), Item: av}); err != nil {
			t.Fatal(err)
		}
	}
	log := &lockedBuffer{}
	sweep, err := wire.Sweeper(env(t, local, "SweeperFunction", log, func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	res, err := sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The result (what `make sweep` prints, the Lambda invocation's result) says the same as the metrics.
	if want := (wire.ScheduleResult{"jobsQueued": 2, "overdueJobs": 3}); !maps.Equal(res, want) {
		t.Errorf("result: got %v, want %v", res, want)
	}
	got := map[string]float64{}
	for _, m := range log.metricLines(t) {
		for _, name := range []string{"JobsQueued", "OverdueJobs"} {
			if v, ok := m[name].(float64); ok {
				got[name] = v
			}
		}
	}
	want := map[string]float64{"JobsQueued": 2, "OverdueJobs": 3}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := wire.Fingerprint([]byte(personkey.DevSecret)), wire.Fingerprint([]byte(personkey.DevSecret+"x"))
	if a == b {
		t.Errorf("two secrets, one fingerprint %s", a)
	}
	if a != wire.Fingerprint([]byte(personkey.DevSecret)) {
		t.Errorf("the fingerprint of one secret changed")
	}
	if ok, _ := regexp.MatchString(`^[0-9a-f]{4}(-[0-9a-f]{4}){3}$`, a); !ok || strings.Contains(a, personkey.DevSecret[:8]) {
		t.Errorf("fingerprint %q: want four dash-separated groups of 4 hex digits", a)
	}
}

func TestPersonKeySecretComesFromParameterStore(t *testing.T) {
	local := testenv.New(t)
	fn, _ := local.Function("ConsentFunction")
	base := local.Getenv(fn)
	devFingerprint := wire.Fingerprint([]byte(personkey.DevSecret))
	tests := []struct {
		name        string
		param       string
		fingerprint string
		wantErr     string
	}{
		{"the stack's parameter", base("PERSON_KEY_SECRET_PARAM"), "", ""},
		{"the stack's parameter, fingerprint checked", base("PERSON_KEY_SECRET_PARAM"), devFingerprint, ""},
		{"a changed secret", base("PERSON_KEY_SECRET_PARAM"), "0000-0000-0000-0000", "refusing to start"},
		{"a parameter that does not exist", "/nowhere/person-key-secret", "", "/nowhere/person-key-secret"},
		{"no parameter configured", "", "", "PERSON_KEY_SECRET_PARAM is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				switch k {
				case "PERSON_KEY_SECRET_PARAM":
					return tt.param
				case "PERSON_KEY_FINGERPRINT":
					return tt.fingerprint
				}
				return base(k)
			}
			_, err := wire.ConsentAPI(wire.Env{AWS: local.AWS, Getenv: getenv, Log: &lockedBuffer{}, Now: time.Now})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestConsentMetrics drives the consent function as Lambda runs it (through
// wire.Observe) and checks the request and consent-change metrics.
func TestConsentMetrics(t *testing.T) {
	local := testenv.New(t)
	log := &lockedBuffer{}
	e := env(t, local, "ConsentFunction", log, time.Now)
	h, err := wire.ConsentAPI(e)
	if err != nil {
		t.Fatal(err)
	}
	h = wire.Observe(e, h)
	for _, name := range []string{"give", "change", "withdraw", "unknown-level"} {
		if _, err := h(context.Background(), testenv.HTTPEvent(t, "consent/"+name+".json")); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, m := range log.metricLines(t) {
		switch {
		case m["ConsentChanges"] != nil:
			got = append(got, "consent "+m["Action"].(string)+" "+m["Level"].(string))
		case m["Requests"] != nil:
			got = append(got, "request "+m["Route"].(string)+" "+m["StatusClass"].(string))
		}
	}
	want := []string{
		"consent set basic", "request PUT /v1/consent 2xx",
		"consent set full", "request PUT /v1/consent 2xx",
		"consent withdraw none", "request DELETE /v1/consent 2xx",
		"request PUT /v1/consent 4xx",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got metrics\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestObservePowertoolsKeysAndColdStart drives a function as Lambda runs it
// (wire.Observe, a Lambda context per invocation): every log line carries
// service and function_name, every line of an invocation its request id,
// cold_start and X-Ray trace id; one ColdStart data point is written, on the
// first invocation only, with the Service and Function dimensions.
func TestObservePowertoolsKeysAndColdStart(t *testing.T) {
	local := testenv.New(t)
	log := &lockedBuffer{}
	e := env(t, local, "ConsentFunction", log, time.Now)
	const name = "privacycore-test-TestObservePowertoolsKeysAndColdStart"
	getenv := e.Getenv
	e.Getenv = func(k string) string {
		if k == "AWS_LAMBDA_FUNCTION_NAME" {
			return name
		}
		return getenv(k)
	}
	h, err := wire.ConsentAPI(e)
	if err != nil {
		t.Fatal(err)
	}
	h = wire.Observe(e, h)
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	for _, inv := range []struct{ id, fixture string }{{"req-cold", "give"}, {"req-warm", "change"}} {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: inv.id})
		//lint:ignore SA1029 aws-lambda-go puts the trace header under this plain string key.
		ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1")
		if _, err := h(ctx, testenv.HTTPEvent(t, "consent/"+inv.fixture+".json")); err != nil {
			t.Fatal(err)
		}
	}

	var cold []map[string]any
	for _, m := range log.metricLines(t) {
		if m["ColdStart"] != nil {
			cold = append(cold, m)
		}
		if m["Service"] != "privacycore" {
			t.Errorf("data point without Service privacycore: %v", m)
		}
	}
	if len(cold) != 1 || cold[0]["Function"] != name {
		t.Errorf("ColdStart data points: got %v, want one with Function %s", cold, name)
	}

	perRequest := map[string][]any{}
	log.mu.Lock()
	lines := strings.Split(strings.TrimSpace(log.b.String()), "\n")
	log.mu.Unlock()
	for _, line := range lines {
		if strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["service"] != "privacycore" || m["function_name"] != name {
			t.Errorf("line without service/function_name: %s", line)
		}
		id, _ := m["function_request_id"].(string)
		if id == "" {
			continue // logged while building the handler
		}
		if m["xray_trace_id"] != root {
			t.Errorf("line without the trace id: %s", line)
		}
		perRequest[id] = append(perRequest[id], m["cold_start"])
	}
	for id, want := range map[string]bool{"req-cold": true, "req-warm": false} {
		if len(perRequest[id]) == 0 {
			t.Errorf("no log line of invocation %s", id)
		}
		for _, got := range perRequest[id] {
			if got != want {
				t.Errorf("invocation %s: cold_start %v, want %v", id, got, want)
			}
		}
	}
}
