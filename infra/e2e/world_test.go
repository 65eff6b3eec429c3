// Package e2e holds end-to-end tests of the rules at the edges (death, the
// summary care record, paper-form-only reinstating, children, the catalogue,
// reconfirmation, identity, foster care) on the local stack: every function
// built by its wire constructor from the template's environment, on a fresh
// emulator table and queues per test, driven by the events/ fixtures.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

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
	kari     = "14838500073" // born 1985
	ola      = "01879000099" // born 1990
	teen     = "05851250095" // born 2012-05-05: 14 on day0
	small    = "29821650087" // born 2016-02-29: 10 on day0
	stranger = "01924810056" // born 1948
)

var day0 = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

type world struct {
	t     *testing.T
	local *stack.Local
	clock *testenv.Clock
	logs  *testenv.Buffer
	keys  *personkey.Keyer
	store *dynamo.Stores
	http  map[string]wire.HTTPHandler
	sqs   map[string]wire.SQSHandler
	sweep wire.ScheduleHandler
	seq   int
	ids   []string // person ids that must never reach logs or answers
}

// newWorld builds every function; env overrides environment variables of
// the template (e.g. ALLOW_TEST_IDS).
func newWorld(t *testing.T, env map[string]string) *world {
	t.Helper()
	w := &world{t: t, local: testenv.New(t), clock: testenv.NewClock(day0, time.Millisecond), logs: &testenv.Buffer{},
		http: map[string]wire.HTTPHandler{}, sqs: map[string]wire.SQSHandler{}, ids: []string{kari, ola, teen, small, stranger}}
	w.keys, _ = personkey.New([]byte(personkey.DevSecret))
	w.store = dynamo.NewStores(w.local.DynamoDB, w.local.Table("PrivacyTable"), w.clock.Now)
	envOf := func(fn string) wire.Env {
		f, ok := w.local.Function(fn)
		if !ok {
			t.Fatalf("template has no %s", fn)
		}
		base := w.local.Getenv(f)
		return wire.Env{AWS: w.local.AWS, Log: w.logs, Now: w.clock.Now, Getenv: func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return base(k)
		}}
	}
	for name, b := range map[string]struct {
		fn    string
		build func(wire.Env) (wire.HTTPHandler, error)
	}{
		"consent": {"ConsentFunction", wire.ConsentAPI}, "settings": {"SettingsFunction", wire.SettingsAPI},
		"forms": {"FormsFunction", wire.FormsAPI}, "access": {"AccessFunction", wire.AccessAPI},
		"representation": {"RepresentationFunction", wire.RepresentationAPI}, "profile": {"ProfileFunction", wire.ProfileAPI},
	} {
		h, err := b.build(envOf(b.fn))
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
		h, err := b.build(envOf(b.fn))
		if err != nil {
			t.Fatal(err)
		}
		w.sqs[name] = h
	}
	var err error
	if w.sweep, err = wire.Sweeper(envOf("SweeperFunction")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range w.ids {
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

// call sends the fixture events/<fixture> as pid ("" keeps the fixture's
// claims) with body (if not empty) and path parameters.
func (w *world) call(fn, fixture, pid, body string, path map[string]string) resp {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, fixture)
	if pid != "" {
		ev.RequestContext.Authorizer.JWT.Claims["pid"] = pid
	}
	if body != "" {
		ev.Body = body
	}
	for k, v := range path {
		if ev.PathParameters == nil {
			ev.PathParameters = map[string]string{}
		}
		ev.PathParameters[k] = v
		ev.RawPath = strings.Replace(ev.RawPath, "0123456789abcdef0123456789abcdef", v, 1)
	}
	out, err := w.http[fn](context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, out)
	r := resp{Status: out.StatusCode, Raw: out.Body}
	_ = json.Unmarshal([]byte(out.Body), &r.Body)
	if out.StatusCode >= 400 {
		for _, id := range w.ids {
			if strings.Contains(out.Body, id) {
				w.t.Errorf("a refusal echoes a person id: %s", out.Body)
			}
		}
	}
	return r
}

func (w *world) consent(pid, level string) {
	w.t.Helper()
	if r := w.call("consent", "consent/give.json", pid, `{"level":"`+level+`"}`, nil); r.Status != 200 {
		w.t.Fatalf("consent %s: %d %s", level, r.Status, r.Raw)
	}
}

func (w *world) decide(actor, service, subject string) resp {
	w.t.Helper()
	b := `{"service":"` + service + `"}`
	if subject != "" {
		b = `{"service":"` + service + `","subject":"` + subject + `"}`
	}
	return w.call("access", "access/decide-self.json", actor, b, nil)
}

func (w *world) rule(actor, service, subject string) string {
	w.t.Helper()
	return fmt.Sprint(w.decide(actor, service, subject).Body["rule"])
}

func (w *world) notice(body string) {
	w.t.Helper()
	w.seq++
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: fmt.Sprint("m", w.seq), Body: body,
		Attributes: map[string]string{"SentTimestamp": strconv.FormatInt(w.clock.Now().UnixMilli(), 10)}}}}
	out, err := w.sqs["notices"](context.Background(), ev)
	if err != nil || len(out.BatchItemFailures) > 0 {
		w.t.Fatalf("notice: %v %v\n%s", err, out.BatchItemFailures, w.logs.String())
	}
}

func (w *world) parent(parent, child string) {
	w.t.Helper()
	w.seq++
	w.notice(fmt.Sprintf(`{"version":1,"noticeId":"p-%d","type":"parental_responsibility_set","eventTime":"2026-01-01T00:00:00Z","parent":"%s","child":"%s"}`, w.seq, parent, child))
}

func (w *world) foster(parent, child string) {
	w.t.Helper()
	w.seq++
	w.notice(fmt.Sprintf(`{"version":1,"noticeId":"f-%d","type":"foster_care_set","eventTime":"2026-01-01T00:00:00Z","parent":"%s","child":"%s"}`, w.seq, parent, child))
}

func (w *world) death(pid string) {
	w.t.Helper()
	w.seq++
	w.notice(fmt.Sprintf(`{"version":1,"noticeId":"d-%d","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"%s"}`, w.seq, pid))
}

// form submits a paper form and runs the forms worker; it returns the
// form's final status and reason.
func (w *world) form(kind, subject, signer string) (string, string) {
	w.t.Helper()
	w.seq++
	id := fmt.Sprintf("F-E2E-%d", w.seq)
	b := fmt.Sprintf(`{"formId":"%s","kind":"%s","subject":"%s","signer":"%s","receivedDate":"2026-11-20"}`, id, kind, subject, signer)
	if r := w.call("forms", "forms/block-adult.json", "", b, nil); r.Status != 202 {
		w.t.Fatalf("submit %s: %d %s", kind, r.Status, r.Raw)
	}
	w.drain("FormsQueue", "forms")
	st := w.call("forms", "forms/status.json", "", "", map[string]string{"formId": id})
	return fmt.Sprint(st.Body["status"]), fmt.Sprint(st.Body["reason"])
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

func code(r resp) string { return fmt.Sprint(r.Body["code"]) }
