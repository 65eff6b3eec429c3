package settingsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	kari  = "14838500073" // parent
	ola   = "01879000099" // not the child's parent
	teen  = "05851250095" // 14
	small = "29821650087" // 10
)

type world struct {
	t     *testing.T
	local *stack.Local
	clock *testenv.Clock
	logs  *testenv.Buffer
	keys  *personkey.Keyer
	http  map[string]wire.HTTPHandler
	sqs   map[string]wire.SQSHandler
	sweep wire.ScheduleHandler
	seq   int
}

var day0 = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, local: testenv.New(t), clock: testenv.NewClock(day0, time.Millisecond), logs: &testenv.Buffer{},
		http: map[string]wire.HTTPHandler{}, sqs: map[string]wire.SQSHandler{}}
	w.keys, _ = personkey.New([]byte(personkey.DevSecret))
	env := func(fn string) wire.Env {
		f, ok := w.local.Function(fn)
		if !ok {
			t.Fatalf("template has no %s", fn)
		}
		return wire.Env{AWS: w.local.AWS, Getenv: w.local.Getenv(f), Log: w.logs, Now: w.clock.Now}
	}
	for name, b := range map[string]struct {
		fn    string
		build func(wire.Env) (wire.HTTPHandler, error)
	}{
		"consent": {"ConsentFunction", wire.ConsentAPI}, "settings": {"SettingsFunction", wire.SettingsAPI},
		"forms": {"FormsFunction", wire.FormsAPI}, "access": {"AccessFunction", wire.AccessAPI},
	} {
		h, err := b.build(env(b.fn))
		if err != nil {
			t.Fatal(err)
		}
		w.http[name] = h
	}
	for name, b := range map[string]struct {
		fn    string
		build func(wire.Env) (wire.SQSHandler, error)
	}{
		"notices": {"NoticeWorkerFunction", wire.NoticeWorker}, "forms": {"FormsWorkerFunction", wire.FormsWorker},
		"purge": {"PurgeWorkerFunction", wire.PurgeWorker},
	} {
		h, err := b.build(env(b.fn))
		if err != nil {
			t.Fatal(err)
		}
		w.sqs[name] = h
	}
	var err error
	if w.sweep, err = wire.Sweeper(env("SweeperFunction")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{kari, ola, teen, small} {
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

func (w *world) call(fn, fixture string, mutate func(*events.APIGatewayV2HTTPRequest)) resp {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, fixture)
	if mutate != nil {
		mutate(&ev)
	}
	out, err := w.http[fn](context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, out)
	r := resp{Status: out.StatusCode, Raw: out.Body}
	_ = json.Unmarshal([]byte(out.Body), &r.Body)
	return r
}

func as(pid string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer.JWT.Claims["pid"] = pid }
}

func body(b string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.Body = b }
}

func both(fs ...func(*events.APIGatewayV2HTTPRequest)) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) {
		for _, f := range fs {
			f(e)
		}
	}
}

func (w *world) consent(pid, level string) {
	w.t.Helper()
	if r := w.call("consent", "consent/give.json", both(as(pid), body(`{"level":"`+level+`"}`))); r.Status != 200 {
		w.t.Fatalf("consent: %d %s", r.Status, r.Raw)
	}
}

func (w *world) decide(pid, service, subject string) string {
	b := `{"service":"` + service + `"}`
	if subject != "" {
		b = `{"service":"` + service + `","subject":"` + subject + `"}`
	}
	r := w.call("access", "access/decide-self.json", both(as(pid), body(b)))
	return fmt.Sprint(r.Body["rule"])
}

func (w *world) parent(parent, child string) {
	w.t.Helper()
	w.seq++
	b := fmt.Sprintf(`{"version":1,"noticeId":"p-%d","type":"parental_responsibility_set","eventTime":"2026-01-01T00:00:00Z","parent":"%s","child":"%s"}`, w.seq, parent, child)
	out, err := w.sqs["notices"](context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "n", Body: b, Attributes: map[string]string{"SentTimestamp": "1795462200000"}}}})
	if err != nil || len(out.BatchItemFailures) > 0 {
		w.t.Fatalf("notice: %v %v", err, out.BatchItemFailures)
	}
}

// drain hands every message on a queue to a consumer, as Lambda would.
func (w *world) drain(queue, consumer string) int {
	w.t.Helper()
	return testenv.Drain(w.t, w.local, queue, w.sqs[consumer], w.clock.Now, w.logs)
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

func count(sks []string, prefix string) int { return testenv.CountPrefix(sks, prefix) }

func TestSettingsForSelf(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	tests := []struct {
		name, fixture, body   string
		check                 func(map[string]any) bool
		service, wantDecision string
	}{
		{"block", "settings/block.json", `{"blocked":true}`, func(b map[string]any) bool { return b["emergencyBlock"] == true }, "messages", "emergency_block"},
		{"reinstate (paper form 1 only)", "forms/reinstate-adult.json", "", nil, "messages", "allowed"},
		{"remove patient record access", "settings/patient-record.json", `{"enabled":false}`, func(b map[string]any) bool { return b["patientRecordAccess"] == false }, "patient_record", "patient_record_access_removed"},
		{"restore patient record access (paper form 1 only)", "forms/patient-record-restore-adult.json", "", nil, "patient_record", "allowed"},
		{"remove SCR access", "settings/scr-access.json", `{"enabled":false}`, func(b map[string]any) bool { return b["summaryCareRecord"].(map[string]any)["access"] == false }, "summary_care_record", "summary_care_record_unavailable"},
		{"restore SCR access", "settings/scr-access.json", `{"enabled":true}`, func(b map[string]any) bool { return b["summaryCareRecord"].(map[string]any)["access"] == true }, "summary_care_record", "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.fixture, "forms/") {
				if r := w.call("forms", tt.fixture, nil); r.Status != 202 {
					t.Fatalf("form: %d %s", r.Status, r.Raw)
				}
				w.drain("FormsQueue", "forms")
			} else if r := w.call("settings", tt.fixture, both(as(kari), body(tt.body))); r.Status != 200 || !tt.check(r.Body) {
				t.Fatalf("got %d %s", r.Status, r.Raw)
			}
			if got := w.decide(kari, tt.service, ""); got != tt.wantDecision {
				t.Errorf("decision %s: got %s, want %s", tt.service, got, tt.wantDecision)
			}
		})
	}
	// A block does not opt out of the summary care record, and a blocked
	// person still acts for others.
	w.call("settings", "settings/block.json", both(as(kari), body(`{"blocked":true}`)))
	if r := w.call("settings", "settings/get.json", as(kari)); r.Body["summaryCareRecord"].(map[string]any)["optedOut"] != false {
		t.Errorf("block touched the SCR: %s", r.Raw)
	}
	w.parent(kari, small)
	if got := w.decide(kari, "appointments", small); got != "allowed" {
		t.Errorf("blocked parent acting for a child: %s", got)
	}
	// Every change is recorded and survives a consent withdrawal.
	changes := count(w.sortKeys(kari), "OPTOUT#")
	if changes != 7 {
		t.Errorf("opt-out records: %d, want 7", changes)
	}
	// Lifting the block in the portal is refused (paper form 1 only) and records nothing.
	if r := w.call("settings", "settings/block.json", both(as(kari), body(`{"blocked":false}`))); r.Status != 403 || r.Body["code"] != "reinstate_by_form_1" {
		t.Errorf("portal reinstate: %d %s", r.Status, r.Raw)
	}
	if r := w.call("consent", "consent/withdraw.json", as(kari)); r.Status != 200 {
		t.Fatalf("withdraw: %s", r.Raw)
	}
	if got := count(w.sortKeys(kari), "OPTOUT#"); got != 7 || count(w.sortKeys(kari), "SETTINGS") != 1 {
		t.Errorf("after withdrawal: %v", w.sortKeys(kari))
	}
}

func TestSettingsForAChild(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.parent(kari, teen)
	w.parent(kari, small)
	if r := w.call("settings", "settings/block-child.json", as(kari)); r.Status != 200 || r.Body["emergencyBlock"] != true {
		t.Fatalf("block child: %d %s", r.Status, r.Raw)
	}
	if got := w.decide(kari, "messages", teen); got != "emergency_block" {
		t.Errorf("decision for the blocked child: %s", got)
	}
	if r := w.call("settings", "settings/block-child.json", both(as(kari), body(`{"blocked":false,"child":"`+teen+`"}`))); r.Status != 403 || r.Body["code"] != "reinstate_by_form_2" {
		t.Errorf("reinstating a child in the portal: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/block.json", both(as(teen), body(`{"blocked":false}`))); r.Status != 403 || r.Body["code"] != "reinstate_by_form_2" {
		t.Errorf("the child lifting the block themself: %d %s", r.Status, r.Raw)
	}
	if got := w.decide(kari, "messages", teen); got != "emergency_block" {
		t.Errorf("block lifted: %s", got)
	}
	if r := w.call("settings", "settings/patient-record.json", both(as(kari), body(`{"enabled":false,"child":"`+small+`"}`))); r.Status != 200 {
		t.Errorf("child's patient record: %d %s", r.Status, r.Raw)
	}
	if got := w.decide(kari, "patient_record", small); got != "patient_record_access_removed" {
		t.Errorf("decision: %s", got)
	}
	// Not my child; a child's SCR settings are a parent's to change only under 12.
	if r := w.call("settings", "settings/block-child.json", as(ola)); r.Status != 403 || r.Body["code"] != "not_your_child" {
		t.Errorf("stranger blocking the child: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/scr-opt-out.json", both(as(kari), body(`{"optedOut":true,"child":"`+teen+`"}`))); r.Status != 403 || r.Body["code"] != "not_your_child" {
		t.Errorf("parent opting a 14-year-old out of SCR: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/scr-access-child.json", as(ola)); r.Status != 403 || r.Body["code"] != "not_your_child" {
		t.Errorf("stranger removing the child's SCR access: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/scr-opt-out.json", both(as(kari), body(`{"optedOut":true,"child":"`+small+`"}`))); r.Status != 200 || r.Body["summaryCareRecord"].(map[string]any)["optedOut"] != true {
		t.Errorf("parent opting a 10-year-old out of SCR: %d %s", r.Status, r.Raw)
	}
	if got := count(w.sortKeys(ola), ""); got != 0 {
		t.Errorf("stranger's attempt stored %d items", got)
	}
}

// TestSCROptOutWindow: restoring on day 29 brings the contents back; on
// day 30 a new, empty record starts and the old one is purged by the job.
func TestSCROptOutWindow(t *testing.T) {
	for _, tt := range []struct {
		name        string
		after       time.Duration
		wantContent int
		wantGen     float64
	}{
		{"restored 1 minute before 30 days", 30*24*time.Hour - time.Minute, 2, 0},
		{"restored 1 minute after 30 days", 30*24*time.Hour + time.Minute, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.consent(kari, "full")
			pk := dynamo.PersonPK(w.key(kari))
			for i := range 2 {
				_, err := w.local.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.local.Table("PrivacyTable")), Item: map[string]types.AttributeValue{
					"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: fmt.Sprintf("SCR#g0#entry%d", i)},
				}})
				if err != nil {
					t.Fatal(err)
				}
			}
			r := w.call("settings", "settings/scr-opt-out.json", as(kari))
			if r.Status != 200 || r.Body["summaryCareRecord"].(map[string]any)["optedOut"] != true {
				t.Fatalf("opt out: %s", r.Raw)
			}
			if got := w.decide(kari, "summary_care_record", ""); got != "summary_care_record_unavailable" {
				t.Errorf("decision while opted out: %s", got)
			}
			w.clock.Advance(tt.after)
			r = w.call("settings", "settings/scr-restore.json", as(kari))
			if r.Status != 200 || r.Body["summaryCareRecord"].(map[string]any)["generation"] != tt.wantGen {
				t.Fatalf("restore: %d %s", r.Status, r.Raw)
			}
			w.clock.Advance(time.Hour)
			if _, err := w.sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			w.drain("PurgeQueue", "purge")
			if got := count(w.sortKeys(kari), "SCR#g0#"); got != tt.wantContent {
				t.Errorf("old record's entries: %d, want %d", got, tt.wantContent)
			}
			if got := w.decide(kari, "summary_care_record", ""); got != "allowed" {
				t.Errorf("decision after restore: %s", got)
			}
			if count(w.sortKeys(kari), "CONSENTLOG#") != 1 || count(w.sortKeys(kari), "OPTOUT#") != 2 || count(w.sortKeys(kari), "SETTINGS") != 1 {
				t.Errorf("the SCR purge touched other data: %v", w.sortKeys(kari))
			}
		})
	}
}

func TestEveryFormKind(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.parent(kari, teen)
	tests := []struct {
		fixture, who, service string
		wantRule              string
	}{
		{"block-adult", kari, "messages", "emergency_block"},
		{"reinstate-adult", kari, "messages", "allowed"},
		{"block-child", teen, "messages", "emergency_block"},
		{"reinstate-child", teen, "messages", "allowed"},
		{"patient-record-remove-adult", kari, "patient_record", "patient_record_access_removed"},
		{"patient-record-restore-adult", kari, "patient_record", "allowed"},
		{"patient-record-remove-child", teen, "patient_record", "patient_record_access_removed"},
		{"patient-record-restore-child", teen, "patient_record", "allowed"},
		{"withdraw-consent-child", teen, "messages", "no_consent"},
		{"withdraw-consent-adult", kari, "messages", "no_consent"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			r := w.call("forms", "forms/"+tt.fixture+".json", nil)
			if r.Status != 202 || r.Body["status"] != "received" {
				t.Fatalf("submit: %d %s", r.Status, r.Raw)
			}
			if n := w.drain("FormsQueue", "forms"); n != 1 {
				t.Fatalf("forms worker got %d messages", n)
			}
			id := r.Body["formId"].(string)
			st := w.call("forms", "forms/status.json", func(e *events.APIGatewayV2HTTPRequest) { e.PathParameters["formId"] = id })
			if st.Body["status"] != "applied" {
				t.Fatalf("status: %s", st.Raw)
			}
			subject := ""
			if tt.who == teen {
				subject = teen
			}
			if tt.service == "patient_record" && tt.who == teen {
				// Patient-record content is for children under 12 only; check the stored setting instead.
				sks := w.sortKeys(teen)
				if count(sks, "OPTOUT#patient_record_access#") == 0 {
					t.Errorf("no opt-out record for the child: %v", sks)
				}
				return
			}
			if got := w.decide(kari, tt.service, subject); got != tt.wantRule {
				t.Errorf("decision after the form: %s, want %s", got, tt.wantRule)
			}
		})
	}
	// Paper-form changes are recorded with their channel and form id.
	if n := count(w.sortKeys(kari), "OPTOUT#emergency_block#"); n != 2 {
		t.Errorf("block records: %d", n)
	}
}

func TestFormSubmittedTwiceHasOneEffect(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	first := w.call("forms", "forms/block-adult.json", nil)
	w.drain("FormsQueue", "forms")
	again := w.call("forms", "forms/block-adult.json", nil)
	if first.Status != 202 || again.Status != 200 || again.Body["status"] != "applied" {
		t.Fatalf("first %d %s, again %d %s", first.Status, first.Raw, again.Status, again.Raw)
	}
	if n := w.drain("FormsQueue", "forms"); n != 0 {
		t.Errorf("a decided form was queued again (%d)", n)
	}
	if n := count(w.sortKeys(kari), "OPTOUT#emergency_block#"); n != 1 {
		t.Errorf("effects: %d, want 1", n)
	}
	// The same id with different content is refused.
	conflict := w.call("forms", "forms/block-adult.json", body(`{"formId":"F-2026-0001","kind":"reinstate_adult","subject":"`+kari+`","signer":"`+kari+`","receivedDate":"2026-11-20"}`))
	if conflict.Status != 409 || conflict.Body["code"] != "form_id_conflict" {
		t.Errorf("same id, other form: %d %s", conflict.Status, conflict.Raw)
	}
}

func TestBadForms(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	w.parent(kari, teen)
	bad := func(field, value string) string {
		m := map[string]string{"formId": "F-BAD-1", "kind": "block_adult", "subject": kari, "signer": kari, "receivedDate": "2026-11-20"}
		m[field] = value
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, body, code string
	}{
		{"form id", bad("formId", "no spaces allowed"), "invalid_form_id"},
		{"kind", bad("kind", "block_everyone"), "unknown_kind"},
		{"subject id", bad("subject", "14838500074"), "invalid_subject"},
		{"signer id", bad("signer", "1483850007"), "invalid_signer"},
		{"received date", bad("receivedDate", "20.11.2026"), "invalid_received_date"},
		{"received in the future", bad("receivedDate", "2027-01-01"), "received_in_future"},
		{"adult form signed by someone else", bad("signer", ola), "signer_not_subject"},
		{"unknown field", `{"formId":"F-BAD-1","kind":"block_adult","subject":"` + kari + `","signer":"` + kari + `","receivedDate":"2026-11-20","note":"x"}`, "unknown_field"},
		{"malformed JSON", `{"formId":`, "malformed_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.call("forms", "forms/block-adult.json", body(tt.body))
			if r.Status != 400 || r.Body["code"] != tt.code {
				t.Errorf("got %d %v, want 400 %s", r.Status, r.Body["code"], tt.code)
			}
			for _, id := range []string{kari, ola, "14838500074"} {
				if strings.Contains(r.Raw, id) {
					t.Errorf("error echoes a person id: %s", r.Raw)
				}
			}
		})
	}
	if n := w.drain("FormsQueue", "forms"); n != 0 {
		t.Errorf("bad forms were queued: %d", n)
	}
	// Rules that need stored facts reject the form with a reason; nothing changes.
	for _, tt := range []struct{ fixture, body, reason string }{
		{"rejected-not-parent", "", "signer_lacks_parental_responsibility"},
		{"block-child", `{"formId":"F-OLD-1","kind":"block_child","subject":"` + kari + `","signer":"` + ola + `","receivedDate":"2026-11-20"}`, "child_not_under_16"},
		{"block-adult", `{"formId":"F-YOUNG-1","kind":"block_adult","subject":"` + teen + `","signer":"` + teen + `","receivedDate":"2026-11-20"}`, "subject_under_16_use_child_form"},
	} {
		var mut func(*events.APIGatewayV2HTTPRequest)
		if tt.body != "" {
			mut = body(tt.body)
		}
		r := w.call("forms", "forms/"+tt.fixture+".json", mut)
		w.drain("FormsQueue", "forms")
		id := r.Body["formId"].(string)
		st := w.call("forms", "forms/status.json", func(e *events.APIGatewayV2HTTPRequest) { e.PathParameters["formId"] = id })
		if st.Body["status"] != "rejected" || st.Body["reason"] != tt.reason {
			t.Errorf("%s: %s, want rejected %s", id, st.Raw, tt.reason)
		}
	}
	for _, pid := range []string{kari, teen, ola} {
		if n := count(w.sortKeys(pid), "OPTOUT#") + count(w.sortKeys(pid), "SETTINGS"); n != 0 {
			t.Errorf("a rejected form changed settings (%d items)", n)
		}
	}
}

func TestTokensStayOnTheirSide(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	asCitizen := func(e *events.APIGatewayV2HTTPRequest) {
		e.RequestContext.Authorizer.JWT.Scopes = nil
		delete(e.RequestContext.Authorizer.JWT.Claims, "scope")
		e.RequestContext.Authorizer.JWT.Claims["pid"] = kari
	}
	if r := w.call("forms", "forms/block-adult.json", asCitizen); r.Status != 403 || r.Body["code"] != "insufficient_scope" {
		t.Errorf("citizen submitting a form: %d %s", r.Status, r.Raw)
	}
	if r := w.call("forms", "forms/status.json", asCitizen); r.Status != 403 {
		t.Errorf("citizen reading a form: %d %s", r.Status, r.Raw)
	}
	asOperator := func(e *events.APIGatewayV2HTTPRequest) {
		e.RequestContext.Authorizer.JWT.Scopes = []string{"forms:write"}
		e.RequestContext.Authorizer.JWT.Claims["scope"] = "forms:write"
	}
	for _, c := range []struct{ fn, fixture string }{
		{"settings", "settings/block.json"}, {"consent", "consent/get.json"}, {"consent", "consent/withdraw.json"}, {"access", "access/decide-self.json"},
	} {
		if r := w.call(c.fn, c.fixture, asOperator); r.Status != 403 || r.Body["code"] != "operator_token" {
			t.Errorf("operator on %s: %d %s", c.fixture, r.Status, r.Raw)
		}
	}
	if r := w.call("consent", "consent/get.json", as(kari)); r.Body["status"] != "active" {
		t.Errorf("operator attempts changed the citizen's consent: %s", r.Raw)
	}
}
