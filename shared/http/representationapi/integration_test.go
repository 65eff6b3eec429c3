package representationapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/apispec"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	kari     = "14838500073" // born 1985; Kari's child and grantor in the fixtures
	ola      = "01879000099" // born 1990; Kari's attorney
	teen     = "05851250095" // born 2012-05-05: 14 on the test day
	small    = "29821650087" // born 2016-02-29: 10 on the test day
	stranger = "01924810056" // born 1948; no relation to anyone
)

type world struct {
	t       *testing.T
	local   *stack.Local
	clock   *testenv.Clock
	logs    *testenv.Buffer
	keys    *personkey.Keyer
	fns     map[string]wire.HTTPHandler
	notices wire.SQSHandler
	ageJob  wire.ScheduleHandler
	seq     int
}

var testDay = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, local: testenv.New(t), clock: testenv.NewClock(testDay, time.Millisecond), logs: &testenv.Buffer{}, fns: map[string]wire.HTTPHandler{}}
	w.keys, _ = personkey.New([]byte(personkey.DevSecret))
	env := func(fn string) wire.Env {
		f, ok := w.local.Function(fn)
		if !ok {
			t.Fatalf("template has no %s", fn)
		}
		return wire.Env{AWS: w.local.AWS, Getenv: w.local.Getenv(f), Log: w.logs, Now: w.clock.Now}
	}
	for fn, build := range map[string]func(wire.Env) (wire.HTTPHandler, error){
		"consent": wire.ConsentAPI, "representation": wire.RepresentationAPI, "access": wire.AccessAPI,
	} {
		h, err := build(env(map[string]string{"consent": "ConsentFunction", "representation": "RepresentationFunction", "access": "AccessFunction"}[fn]))
		if err != nil {
			t.Fatal(err)
		}
		w.fns[fn] = h
	}
	var err error
	if w.notices, err = wire.NoticeWorker(env("NoticeWorkerFunction")); err != nil {
		t.Fatal(err)
	}
	if w.ageJob, err = wire.AgeTransitions(env("AgeTransitionsFunction")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{kari, ola, teen, small, stranger} {
			if strings.Contains(w.logs.String(), id) {
				t.Errorf("a person id reached the logs")
			}
		}
	})
	return w
}

type resp struct {
	Status int
	Body   map[string]any
	Raw    string
}

// call sends a fixture (events/<fn>/<name>.json) as person pid, with an
// optional body and path id.
func (w *world) call(fn, name, pid, body, id string) resp {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, fn+"/"+name+".json")
	ev.RequestContext.Authorizer.JWT.Claims["pid"] = pid
	if body != "" {
		ev.Body = body
	}
	if id != "" {
		ev.PathParameters = map[string]string{"id": id}
		ev.RawPath = "/v1/powers-of-attorney/" + id
	}
	h := w.fns[fn]
	out, err := h(context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, out)
	r := resp{Status: out.StatusCode, Raw: out.Body}
	_ = json.Unmarshal([]byte(out.Body), &r.Body)
	return r
}

func (w *world) consent(pid, level string) {
	w.t.Helper()
	if r := w.call("consent", "give", pid, `{"level":"`+level+`"}`, ""); r.Status != 200 {
		w.t.Fatalf("consent %s: %d %s", level, r.Status, r.Raw)
	}
}

func (w *world) notice(body string) {
	w.t.Helper()
	w.seq++
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: fmt.Sprint("m", w.seq), Body: body,
		Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(w.clock.Now().UnixMilli(), 10)}}}}
	out, err := w.notices(context.Background(), ev)
	if err != nil || len(out.BatchItemFailures) > 0 {
		w.t.Fatalf("notice: %v %v\n%s", err, out.BatchItemFailures, w.logs.String())
	}
}

func (w *world) parent(parent, child string) {
	w.seq++
	w.notice(fmt.Sprintf(`{"version":1,"noticeId":"p-%d","type":"parental_responsibility_set","eventTime":"2026-01-01T00:00:00Z","parent":"%s","child":"%s"}`, w.seq, parent, child))
}

func (w *world) decide(actor, service, subject string, record bool) resp {
	w.t.Helper()
	b, _ := json.Marshal(map[string]any{"service": service, "subject": subject, "recordUse": record})
	if subject == "" {
		b, _ = json.Marshal(map[string]any{"service": service, "recordUse": record})
	}
	return w.call("access", "decide-self", actor, string(b), "")
}

func (w *world) key(pid string) personkey.Key {
	id, err := nin.Parse(pid)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.keys.Key(id)
}

func (w *world) sortKeys(pid string) []string {
	w.t.Helper()
	return testenv.SortKeys(w.t, w.local, dynamo.PersonPK(w.key(pid)))
}

func prefixCount(sks []string, prefix string) int {
	n := 0
	for _, s := range sks {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestGrantChangeTerminate(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.consent(ola, "basic")

	r := w.call("representation", "grant", kari, "", "")
	if r.Status != 201 || r.Body["status"] != "active" || fmt.Sprint(r.Body["areas"]) != "[communication health_data]" {
		t.Fatalf("grant: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if strings.Contains(r.Raw, ola) {
		t.Error("grant answer holds the grantee's person id")
	}
	// Both sides, written together.
	if prefixCount(w.sortKeys(kari), "POA#GIVEN#") != 1 || prefixCount(w.sortKeys(ola), "POA#RECEIVED#") != 1 {
		t.Fatalf("sides: kari %v, ola %v", w.sortKeys(kari), w.sortKeys(ola))
	}
	if d := w.decide(ola, "medicines", kari, false); d.Body["allowed"] != true || d.Body["role"] != "attorney" {
		t.Errorf("attorney decision after grant: %s", d.Raw)
	}
	lists := w.call("representation", "list", ola, "", "")
	if rec := lists.Body["received"].([]any); len(rec) != 1 || rec[0].(map[string]any)["id"] != id {
		t.Errorf("grantee's list: %s", lists.Raw)
	}
	// A second grant to the same person is a conflict.
	if r := w.call("representation", "grant", kari, "", ""); r.Status != 409 || r.Body["code"] != "grant_exists" {
		t.Errorf("second grant: %d %s", r.Status, r.Raw)
	}

	r = w.call("representation", "change", kari, `{"areas":["communication"]}`, id)
	if r.Status != 200 || fmt.Sprint(r.Body["areas"]) != "[communication]" || r.Body["version"] != 2.0 {
		t.Fatalf("change: %d %s", r.Status, r.Raw)
	}
	if d := w.decide(ola, "medicines", kari, false); d.Body["rule"] != "poa_area_not_granted" {
		t.Errorf("after narrowing the areas: %s", d.Raw)
	}
	rec := w.call("representation", "list", ola, "", "").Body["received"].([]any)[0].(map[string]any)
	if fmt.Sprint(rec["areas"]) != "[communication]" {
		t.Errorf("grantee's side not updated with the grantor's: %v", rec)
	}

	// Only the grantor can end it; the grantee gets "not found" for the id.
	if r := w.call("representation", "terminate", ola, "", id); r.Status != 404 {
		t.Errorf("grantee ending the grant: %d %s", r.Status, r.Raw)
	}
	if r := w.call("representation", "terminate", kari, "", id); r.Status != 204 {
		t.Fatalf("terminate: %d %s", r.Status, r.Raw)
	}
	if prefixCount(w.sortKeys(kari), "POA#") != 0 || prefixCount(w.sortKeys(ola), "POA#") != 0 {
		t.Errorf("after terminate: kari %v, ola %v", w.sortKeys(kari), w.sortKeys(ola))
	}
	if d := w.decide(ola, "messages", kari, false); d.Body["rule"] != "no_relation" {
		t.Errorf("after terminate: %s", d.Raw)
	}
}

func TestGrantValidation(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.consent(teen, "basic")
	tests := []struct {
		name, pid, body string
		status          int
		code            string
	}{
		{"grantee under 18", kari, `{"grantee":"` + teen + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, 400, "grantee_under_18"},
		{"grantor under 16", teen, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, 403, "grantor_under_16"},
		{"to oneself", kari, `{"grantee":"` + kari + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, 400, "grantee_is_grantor"},
		{"no areas", kari, `{"grantee":"` + ola + `","areas":[],"validTo":"2027-11-23T00:00:00Z"}`, 400, "areas_required"},
		{"unknown area", kari, `{"grantee":"` + ola + `","areas":["everything"],"validTo":"2027-11-23T00:00:00Z"}`, 400, "unknown_area"},
		{"ends in the past", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2025-01-01T00:00:00Z"}`, 400, "invalid_validity"},
		{"more than ten years", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2040-01-01T00:00:00Z"}`, 400, "validity_too_long"},
		{"bad grantee id", kari, `{"grantee":"14838500074","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, 400, "invalid_grantee"},
		{"grantor without consent", stranger, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, 403, "consent_required"},
		{"unknown field", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z","everything":true}`, 400, "unknown_field"},
		{"validTo not a date (30 February)", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2030-02-30T00:00:00Z"}`, 400, "invalid_validity"},
		{"validFrom not a date (31 April)", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validFrom":"2027-04-31T00:00:00Z","validTo":"2030-02-28T00:00:00Z"}`, 400, "invalid_validity"},
		{"validTo a date without time", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2030-02-28"}`, 400, "invalid_validity"},
		{"duplicate validTo", kari, `{"grantee":"` + ola + `","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z","validTo":"2035-11-23T00:00:00Z"}`, 400, "duplicate_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.call("representation", "grant", tt.pid, tt.body, "")
			if r.Status != tt.status || r.Body["code"] != tt.code {
				t.Errorf("got %d %v, want %d %s", r.Status, r.Body["code"], tt.status, tt.code)
			}
			for _, id := range []string{kari, ola, teen, stranger, "14838500074"} {
				if strings.Contains(r.Raw, id) {
					t.Errorf("error body echoes a person id: %s", r.Raw)
				}
			}
		})
	}
	if n := prefixCount(w.sortKeys(kari), "POA#") + prefixCount(w.sortKeys(ola), "POA#"); n != 0 {
		t.Errorf("refused grants stored %d items", n)
	}
}

// TestGrantIsAtomic: if the grantee's side cannot be written, the grantor's
// side is not written either.
func TestGrantIsAtomic(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	// A stray received item blocks the grantee's side.
	_, err := w.local.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.local.Table("PrivacyTable")), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(w.key(ola))}, "sk": &types.AttributeValueMemberS{Value: "POA#RECEIVED#" + string(w.key(kari))},
		"grantId": &types.AttributeValueMemberS{Value: "stray"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := w.call("representation", "grant", kari, "", ""); r.Status != 409 {
		t.Fatalf("grant against a half-present pair: %d %s", r.Status, r.Raw)
	}
	if n := prefixCount(w.sortKeys(kari), "POA#"); n != 0 {
		t.Errorf("grantor's side written without the grantee's (%d items)", n)
	}
}

func TestParentsAndTheAgeJob(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.parent(kari, teen)
	w.parent(kari, small)

	tests := []struct {
		service, subject string
		want             string
	}{
		{"appointments", small, "allowed"},
		{"appointments", teen, "child_over_12_restricted"},
		{"messages", teen, "allowed"},
		{"patient_travel", small, "not_available_for_children"},
	}
	for _, tt := range tests {
		if d := w.decide(kari, tt.service, tt.subject, false); d.Body["rule"] != tt.want || d.Body["role"] != "parent" {
			t.Errorf("%s for the child: %s, want %s", tt.service, d.Raw, tt.want)
		}
	}
	people := w.call("representation", "people", kari, "", "")
	var got []string
	for _, p := range people.Body["people"].([]any) {
		m := p.(map[string]any)
		got = append(got, fmt.Sprintf("%s/%v/%d", m["relation"], m["age"], len(m["services"].([]any))))
	}
	if fmt.Sprint(got) != "[self/<nil>/36 child/14/9 child/10/22]" && fmt.Sprint(got) != "[self/<nil>/36 child/10/22 child/14/9]" {
		t.Errorf("person selector: %v\n%s", got, people.Raw)
	}
	if strings.Contains(people.Raw, teen) || strings.Contains(people.Raw, small) {
		t.Error("person selector lists person ids")
	}

	// Run the daily job every day until the teen's 16th birthday (2028-05-05).
	if _, err := w.ageJob(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Date(2028, 5, 5, 1, 0, 0, 0, time.UTC).Sub(testDay))
	if d := w.decide(kari, "messages", teen, false); d.Body["rule"] != "parent_access_ended_16" {
		t.Errorf("on the 16th birthday, before the job: %s", d.Raw)
	}
	if d := w.decide(kari, "messages", teen, false); d.Body["rule"] != "parent_access_ended_16" {
		t.Fatal("the relation should still be stored before the job runs")
	}
	if _, err := w.ageJob(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := w.decide(kari, "messages", teen, false); d.Body["rule"] != "no_relation" {
		t.Errorf("after the job, the relation should be gone: %s", d.Raw)
	}
	people = w.call("representation", "people", kari, "", "")
	if n := len(people.Body["people"].([]any)); n != 2 {
		t.Errorf("person selector after the 16th birthday: %d people, want self and the younger child", n)
	}
	usage := w.call("access", "usage-log", teen, "", "")
	if !strings.Contains(usage.Raw, "parent_access_ended") {
		t.Errorf("teen's usage log lacks the end of parents' access: %s", usage.Raw)
	}
	// The small child turned 12 on 2028-03-01 (born 29 Feb): recorded, once.
	log := w.call("access", "usage-log", small, "", "").Raw
	if strings.Count(log, "parent_access_restricted") != 1 {
		t.Errorf("small child's log: %s", log)
	}
	// Running again changes nothing.
	before := fmt.Sprint(w.sortKeys(small), w.sortKeys(teen), w.sortKeys(kari))
	if _, err := w.ageJob(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := fmt.Sprint(w.sortKeys(small), w.sortKeys(teen), w.sortKeys(kari)); after != before {
		t.Errorf("second run changed data:\n%s\n%s", before, after)
	}
}

func TestUsageLogShowsRepresentativesNewestFirst(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.consent(ola, "basic")
	w.call("representation", "grant", kari, "", "")
	w.call("access", "login", kari, "", "")
	w.decide(kari, "messages", "", true)
	w.decide(ola, "medicines", kari, true)
	w.decide(ola, "medicines", kari, false)     // a check without use is not logged
	w.decide(ola, "exemption_card", kari, true) // denied: not logged
	r := w.call("access", "usage-log", kari, "", "")
	var got []string
	for _, it := range r.Body["items"].([]any) {
		m := it.(map[string]any)
		got = append(got, fmt.Sprintf("%s:%v:%v", m["kind"], m["service"], m["by"]))
	}
	if want := "[use:medicines:attorney use:messages:self login:<nil>:self]"; fmt.Sprint(got) != want {
		t.Errorf("usage log: got %v, want %s", got, want)
	}
	if strings.Contains(r.Raw, ola) || strings.Contains(r.Raw, string(w.key(ola))) {
		t.Error("usage log names the attorney")
	}
}

// TestNoRouteReachesAnotherPersonWithoutARelation: a stranger can neither
// read nor change Kari's data through any route.
func TestNoRouteReachesAnotherPersonWithoutARelation(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.consent(ola, "full")
	w.consent(stranger, "full")
	w.parent(kari, small)
	grant := w.call("representation", "grant", kari, "", "")
	id, _ := grant.Body["id"].(string)
	w.decide(kari, "messages", "", true)
	kariBefore, olaBefore := fmt.Sprint(w.sortKeys(kari)), fmt.Sprint(w.sortKeys(ola))

	kariRef, smallRef := string(w.key(kari)), string(w.key(small))
	checks := []struct {
		name string
		r    func() resp
		ok   func(resp) bool
	}{
		{"decide for Kari by id", func() resp { return w.decide(stranger, "messages", kari, true) }, func(r resp) bool { return r.Body["rule"] == "no_relation" }},
		{"decide for Kari by reference", func() resp {
			return w.call("access", "decide-self", stranger, `{"service":"messages","subjectRef":"`+kariRef+`","recordUse":true}`, "")
		}, func(r resp) bool { return r.Body["rule"] == "no_relation" }},
		{"decide for Kari's child", func() resp {
			return w.call("access", "decide-self", stranger, `{"service":"messages","subjectRef":"`+smallRef+`"}`, "")
		}, func(r resp) bool { return r.Body["rule"] == "no_relation" }},
		{"change Kari's grant by id", func() resp { return w.call("representation", "change", stranger, `{"areas":["administration"]}`, id) }, func(r resp) bool { return r.Status == 404 }},
		{"end Kari's grant by id", func() resp { return w.call("representation", "terminate", stranger, "", id) }, func(r resp) bool { return r.Status == 404 }},
		{"the attorney changing the grant", func() resp { return w.call("representation", "change", ola, `{"areas":["administration"]}`, id) }, func(r resp) bool { return r.Status == 404 }},
		{"list grants", func() resp { return w.call("representation", "list", stranger, "", "") }, func(r resp) bool {
			return len(r.Body["given"].([]any)) == 0 && len(r.Body["received"].([]any)) == 0
		}},
		{"person selector", func() resp { return w.call("representation", "people", stranger, "", "") }, func(r resp) bool { return len(r.Body["people"].([]any)) == 1 }},
		{"usage log", func() resp { return w.call("access", "usage-log", stranger, "", "") }, func(r resp) bool { return len(r.Body["items"].([]any)) == 0 }},
		{"consent read", func() resp { return w.call("consent", "get", stranger, "", "") }, func(r resp) bool { return r.Body["level"] == "full" && r.Body["version"] == 1.0 }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			r := c.r()
			if !c.ok(r) {
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
			if strings.Contains(r.Raw, kariRef) || strings.Contains(r.Raw, kari) {
				t.Errorf("answer names Kari: %s", r.Raw)
			}
		})
	}
	if got := fmt.Sprint(w.sortKeys(kari)); got != kariBefore {
		t.Errorf("Kari's data changed:\n before %s\n after  %s", kariBefore, got)
	}
	if got := fmt.Sprint(w.sortKeys(ola)); got != olaBefore {
		t.Errorf("Ola's data changed")
	}
}
