package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/apispec"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Synthetic people of the fixtures.
const (
	kari  = "14838500073" // parent in the fixtures
	ola   = "01879000099" // dies in the fixtures
	child = "05851250095"
	dnum  = "57899210052" // D-number that becomes fnr
	fnr   = "17899210069"
)

var day0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

type world struct {
	t       *testing.T
	local   *stack.Local
	clock   *testenv.Clock
	logs    *testenv.Buffer
	keys    *personkey.Keyer
	consent wire.HTTPHandler
	notices wire.SQSHandler
	sweep   wire.ScheduleHandler
	purge   wire.SQSHandler
	msgSeq  int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, local: testenv.New(t), clock: testenv.NewClock(day0, time.Millisecond), logs: &testenv.Buffer{}}
	w.keys, _ = personkey.New([]byte(personkey.DevSecret))
	env := func(fn string) wire.Env {
		f, ok := w.local.Function(fn)
		if !ok {
			t.Fatalf("template has no %s", fn)
		}
		return wire.Env{AWS: w.local.AWS, Getenv: w.local.Getenv(f), Log: w.logs, Now: w.clock.Now}
	}
	var err error
	if w.consent, err = wire.ConsentAPI(env("ConsentFunction")); err != nil {
		t.Fatal(err)
	}
	if w.notices, err = wire.NoticeWorker(env("NoticeWorkerFunction")); err != nil {
		t.Fatal(err)
	}
	if w.sweep, err = wire.Sweeper(env("SweeperFunction")); err != nil {
		t.Fatal(err)
	}
	if w.purge, err = wire.PurgeWorker(env("PurgeWorkerFunction")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{kari, ola, child, dnum, fnr} {
			if strings.Contains(w.logs.String(), id) {
				t.Errorf("a person id reached the logs")
			}
		}
	})
	return w
}

func (w *world) pk(pid string) string {
	id, err := nin.Parse(pid)
	if err != nil {
		w.t.Fatal(err)
	}
	return dynamo.PersonPK(w.keys.Key(id))
}

// api calls the consent function as person pid.
func (w *world) api(pid, fixture string, body string) (int, map[string]any) {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, "consent/"+fixture+".json")
	ev.RequestContext.Authorizer.JWT.Claims["pid"] = pid
	if body != "" {
		ev.Body = body
	}
	resp, err := w.consent(context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, resp)
	var m map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &m)
	return resp.StatusCode, m
}

// deliver hands notice fixture records to the worker, as Lambda's SQS
// poller would, stamped with the current test time.
func (w *world) deliver(fixture string) events.SQSEventResponse {
	w.t.Helper()
	var ev events.SQSEvent
	testenv.LoadEvent(w.t, "notices/"+fixture+".json", &ev)
	return w.deliverEvent(ev)
}

// deliverEvent hands ev's records to the worker, each with a message id of
// its own and stamped with the current test time.
func (w *world) deliverEvent(ev events.SQSEvent) events.SQSEventResponse {
	w.t.Helper()
	for i := range ev.Records {
		w.msgSeq++
		ev.Records[i].MessageId = fmt.Sprintf("%s-%d", ev.Records[i].MessageId, w.msgSeq)
		ev.Records[i].Attributes["SentTimestamp"] = strconv.FormatInt(w.clock.Now().UnixMilli(), 10)
	}
	resp, err := w.notices(context.Background(), ev)
	if err != nil {
		w.t.Fatalf("notice worker returned an error: %v", err)
	}
	return resp
}

func (w *world) deliverOK(fixture string) {
	w.t.Helper()
	if resp := w.deliver(fixture); len(resp.BatchItemFailures) > 0 {
		w.t.Fatalf("%s: failures %v\nlogs:\n%s", fixture, resp.BatchItemFailures, w.logs.String())
	}
}

// sweepAndPurge runs the sweeper, then drains the real purge queue into
// the purge worker. It returns how many purge messages were handled.
func (w *world) sweepAndPurge() int {
	w.t.Helper()
	if _, err := w.sweep(context.Background()); err != nil {
		w.t.Fatalf("sweep: %v", err)
	}
	url := w.local.QueueURLs["PurgeQueue"]
	n := 0
	for {
		out, err := w.local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return n
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body)})
		}
		resp, err := w.purge(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			w.t.Fatalf("purge: %v %v\n%s", err, resp.BatchItemFailures, w.logs.String())
		}
		for _, m := range out.Messages {
			if _, err := w.local.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				w.t.Fatal(err)
			}
		}
		n += len(out.Messages)
	}
}

func (w *world) sortKeys(pk string) []string {
	w.t.Helper()
	return testenv.SortKeys(w.t, w.local, pk)
}

func (w *world) item(pk, sk string) map[string]any {
	w.t.Helper()
	out, err := w.local.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(w.local.Table("PrivacyTable")), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk},
	}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		w.t.Fatal(err)
	}
	var m map[string]any
	_ = attributevalue.UnmarshalMap(out.Item, &m)
	return m
}

func (w *world) put(items ...map[string]any) {
	w.t.Helper()
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.local.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.local.Table("PrivacyTable")), Item: av}); err != nil {
			w.t.Fatal(err)
		}
	}
}

// seedOla gives Ola consent, some data, a power of attorney given to Kari
// and one received from Kari (each with its twin).
func (w *world) seedOla() {
	w.t.Helper()
	if s, _ := w.api(ola, "give", `{"level":"full"}`); s != 200 {
		w.t.Fatalf("give: %d", s)
	}
	o, k := w.pk(ola), w.pk(kari)
	w.put(
		map[string]any{"pk": o, "sk": "USAGE#2026-11-01#1", "service": "messages"},
		map[string]any{"pk": o, "sk": "USAGE#2026-11-02#2", "service": "appointments"},
		map[string]any{"pk": o, "sk": "PROFILE#employer", "name": "x"},
		map[string]any{"pk": o, "sk": "OPTOUT#scr#2026-01-01#1", "value": "opted_out"},
		map[string]any{"pk": o, "sk": "POA#GIVEN#g1", "grantId": "g1", "mirrorPk": k, "mirrorSk": "POA#RECEIVED#g1"},
		map[string]any{"pk": k, "sk": "POA#RECEIVED#g1", "grantId": "g1", "mirrorPk": o, "mirrorSk": "POA#GIVEN#g1"},
		map[string]any{"pk": o, "sk": "POA#RECEIVED#g2", "grantId": "g2", "mirrorPk": k, "mirrorSk": "POA#GIVEN#g2"},
		map[string]any{"pk": k, "sk": "POA#GIVEN#g2", "grantId": "g2", "mirrorPk": o, "mirrorSk": "POA#RECEIVED#g2"},
	)
}

func hasPrefix(sks []string, prefix string) bool {
	return slices.ContainsFunc(sks, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func TestDeathWithdrawsAtOnceAndPurgesAfter30Days(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	w.deliverOK("death")

	if _, body := w.api(ola, "get", ""); body["status"] != "withdrawn" || body["channel"] != "registry" {
		t.Errorf("consent after death: got %v, want withdrawn by registry", body)
	}
	sks := w.sortKeys(w.pk(ola))
	if hasPrefix(sks, "POA#") || hasPrefix(w.sortKeys(w.pk(kari)), "POA#") {
		t.Errorf("powers of attorney not deleted at once: ola %v, kari %v", sks, w.sortKeys(w.pk(kari)))
	}
	if !hasPrefix(sks, "USAGE#") || !hasPrefix(sks, "PROFILE#") {
		t.Errorf("data deleted before day 30: %v", sks)
	}

	if s, body := w.api(ola, "give", `{"level":"full"}`); s != 403 || body["code"] != "deceased" {
		t.Errorf("consent given again for a dead person: %d %v", s, body)
	}

	w.clock.Advance(29 * 24 * time.Hour)
	if n := w.sweepAndPurge(); n != 0 {
		t.Errorf("day 29: %d purges, want 0", n)
	}
	if !hasPrefix(w.sortKeys(w.pk(ola)), "USAGE#") {
		t.Errorf("data gone before day 30")
	}

	w.clock.Advance(24*time.Hour + time.Minute)
	if n := w.sweepAndPurge(); n != 1 {
		t.Fatalf("day 30: %d purges, want 1", n)
	}
	left := w.sortKeys(w.pk(ola))
	if len(left) != 2 || left[0] != "DECEASED" || !strings.HasPrefix(left[1], "RECEIPT#death-") {
		t.Fatalf("after purge: %v, want only DECEASED and the death receipt", left)
	}
	r := w.item(w.pk(ola), left[1])
	if r["reason"] != "death" || r["status"] != "done" || fmt.Sprint(r["deleted"]) != "map[consent:1 consentlog:2 optout:1 profile:1 usage:2]" {
		t.Errorf("receipt: %v", r)
	}
	if m := w.item(w.pk(ola), "DECEASED"); m["status"] != "purged" {
		t.Errorf("marker: %v", m)
	}
	// A second sweep and a replayed notice change nothing.
	if n := w.sweepAndPurge(); n != 0 {
		t.Errorf("second sweep: %d purges", n)
	}
	w.deliverOK("death")
	if got := w.sortKeys(w.pk(ola)); fmt.Sprint(got) != fmt.Sprint(left) {
		t.Errorf("replayed death after purge changed data: %v", got)
	}
}

func TestAnnulmentOnDay10StopsTheDeletion(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	w.deliverOK("death")
	w.clock.Advance(10 * 24 * time.Hour)
	w.deliverOK("death-annulled")
	if m := w.item(w.pk(ola), "DECEASED"); m["status"] != "annulled" {
		t.Errorf("marker: %v", m)
	}
	w.clock.Advance(25 * 24 * time.Hour)
	if n := w.sweepAndPurge(); n != 0 {
		t.Errorf("purges after annulment: %d, want 0", n)
	}
	if !hasPrefix(w.sortKeys(w.pk(ola)), "USAGE#") {
		t.Error("data deleted despite the annulment")
	}
	if _, body := w.api(ola, "get", ""); body["status"] != "withdrawn" {
		t.Errorf("consent after annulment: %v, want still withdrawn", body)
	}
	if s, body := w.api(ola, "give", `{"level":"basic"}`); s != 200 || body["status"] != "active" {
		t.Errorf("consent again after annulment: %d %v", s, body)
	}
}

func TestAnnulmentAfterPurgeRestoresNothing(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	w.deliverOK("death")
	w.clock.Advance(31 * 24 * time.Hour)
	if n := w.sweepAndPurge(); n != 1 {
		t.Fatalf("purges: %d", n)
	}
	w.deliverOK("death-annulled")
	m := w.item(w.pk(ola), "DECEASED")
	if m["status"] != "purged" || m["lateAnnulment"] != "frg-2026-000177" {
		t.Errorf("marker after late annulment: %v", m)
	}
	if left := w.sortKeys(w.pk(ola)); len(left) != 2 {
		t.Errorf("left: %v", left)
	}
}

func TestReorderedAndDuplicateNoticesHaveOneEffect(t *testing.T) {
	t.Run("annulment before death", func(t *testing.T) {
		w := newWorld(t)
		w.seedOla()
		w.deliverOK("death-annulled")
		w.deliverOK("death")
		if _, body := w.api(ola, "get", ""); body["status"] != "active" {
			t.Errorf("consent: %v, want still active (the death was annulled before it arrived)", body)
		}
		if sks := w.sortKeys(w.pk(ola)); !hasPrefix(sks, "POA#") || hasPrefix(sks, "DECEASED") {
			t.Errorf("the annulled death had an effect: %v", sks)
		}
		w.clock.Advance(31 * 24 * time.Hour)
		if n := w.sweepAndPurge(); n != 0 {
			t.Errorf("purges: %d", n)
		}
	})
	t.Run("death delivered three times", func(t *testing.T) {
		w := newWorld(t)
		w.seedOla()
		w.deliverOK("death")
		w.deliverOK("death")
		w.clock.Advance(time.Hour)
		w.deliverOK("death")
		_, hist := w.api(ola, "history", "")
		if n := len(hist["items"].([]any)); n != 2 {
			t.Errorf("history: %d events, want give + one withdrawal", n)
		}
		w.clock.Advance(31 * 24 * time.Hour)
		if n := w.sweepAndPurge(); n != 1 {
			t.Errorf("purges: %d, want 1", n)
		}
	})
	t.Run("parental responsibility after death", func(t *testing.T) {
		w := newWorld(t)
		w.deliverOK("death") // Ola
		var ev events.SQSEvent
		testenv.LoadEvent(t, "notices/parental-responsibility-set.json", &ev)
		ev.Records[0].Body = strings.Replace(ev.Records[0].Body, kari, ola, 1)
		ev.Records[0].Attributes["SentTimestamp"] = strconv.FormatInt(w.clock.Now().UnixMilli(), 10)
		if resp, _ := w.notices(context.Background(), ev); len(resp.BatchItemFailures) > 0 {
			t.Fatal(resp.BatchItemFailures)
		}
		if sks := w.sortKeys(w.pk(child)); len(sks) != 0 {
			t.Errorf("relation to a deceased parent stored: %v", sks)
		}
	})
}

func TestParentalResponsibility(t *testing.T) {
	w := newWorld(t)
	w.deliverOK("parental-responsibility-set")
	w.deliverOK("parental-responsibility-set")
	k, c := w.pk(kari), w.pk(child)
	kid := w.item(k, "CHILD#"+strings.TrimPrefix(c, "P#"))
	if kid["childBirthDate"] != "2012-05-05" || kid["mirrorPk"] != c {
		t.Errorf("parent's side: %v", kid)
	}
	if got := w.sortKeys(c); len(got) != 1 || got[0] != "PARENT#"+strings.TrimPrefix(k, "P#") {
		t.Errorf("child's side: %v", got)
	}
	w.deliverOK("parental-responsibility-ended")
	if m := w.item(k, "CHILD#"+strings.TrimPrefix(c, "P#")); m["ended"] != true || m["childBirthDate"] != nil {
		t.Errorf("parent's side after end: %v, want a tombstone", m)
	}
	// The older "set" notice delivered again (a standard queue reorders and
	// redelivers) must not bring the relation back.
	var ev events.SQSEvent
	testenv.LoadEvent(t, "notices/parental-responsibility-set.json", &ev)
	ev.Records[0].Body = strings.Replace(ev.Records[0].Body, "frg-2026-000201", "frg-2026-000201-redelivered", 1)
	if resp, _ := w.notices(context.Background(), ev); len(resp.BatchItemFailures) > 0 {
		t.Fatal(resp.BatchItemFailures)
	}
	if m := w.item(k, "CHILD#"+strings.TrimPrefix(c, "P#")); m["ended"] != true {
		t.Errorf("an older set notice revived the relation: %v", m)
	}
}

func TestPersonIDChangeMovesEverything(t *testing.T) {
	w := newWorld(t)
	if s, _ := w.api(dnum, "give", `{"level":"basic_plus"}`); s != 200 {
		t.Fatal(s)
	}
	w.api(dnum, "give", `{"level":"full"}`)
	oldPK, newPK, k := w.pk(dnum), w.pk(fnr), w.pk(kari)
	oldKey, newKey := strings.TrimPrefix(oldPK, "P#"), strings.TrimPrefix(newPK, "P#")
	w.put(
		map[string]any{"pk": oldPK, "sk": "USAGE#1", "service": "messages"},
		map[string]any{"pk": oldPK, "sk": "POA#RECEIVED#g9", "grantId": "g9", "mirrorPk": k, "mirrorSk": "POA#GIVEN#g9"},
		map[string]any{"pk": k, "sk": "POA#GIVEN#g9", "grantId": "g9", "mirrorPk": oldPK, "mirrorSk": "POA#RECEIVED#g9"},
		// The D-number holder is Kari's child in this test.
		map[string]any{"pk": oldPK, "sk": "PARENT#" + strings.TrimPrefix(k, "P#"), "parentKey": strings.TrimPrefix(k, "P#"), "mirrorPk": k, "mirrorSk": "CHILD#" + oldKey},
		map[string]any{"pk": k, "sk": "CHILD#" + oldKey, "childKey": oldKey, "mirrorPk": oldPK, "mirrorSk": "PARENT#" + strings.TrimPrefix(k, "P#")},
	)
	before := len(w.sortKeys(oldPK))
	w.deliverOK("person-id-changed")
	if left := w.sortKeys(oldPK); len(left) != 0 {
		t.Errorf("left under the old key: %v", left)
	}
	if got := len(w.sortKeys(newPK)); got != before {
		t.Errorf("moved %d items, want %d", got, before)
	}
	if s, body := w.api(fnr, "get", ""); s != 200 || body["level"] != "full" || body["version"] != 2.0 {
		t.Errorf("consent under the new id: %d %v", s, body)
	}
	if twin := w.item(k, "POA#GIVEN#g9"); twin["mirrorPk"] != newPK {
		t.Errorf("POA twin not repointed: %v", twin)
	}
	if twin := w.item(k, "CHILD#"+newKey); twin["mirrorPk"] != newPK || twin["childKey"] != newKey {
		t.Errorf("parent's relation not moved to the new key: %v", twin)
	}
	if stale := w.item(k, "CHILD#"+oldKey); len(stale) != 0 {
		t.Errorf("stale relation under the old key: %v", stale)
	}
	// Replay: one effect.
	w.deliverOK("person-id-changed")
	if got := len(w.sortKeys(newPK)); got != before {
		t.Errorf("after replay: %d items", got)
	}
}

func TestMixedBatchReportsOnlyPoisonMessages(t *testing.T) {
	w := newWorld(t)
	resp := w.deliver("batch-mixed")
	var ev events.SQSEvent
	testenv.LoadEvent(t, "notices/batch-mixed.json", &ev)
	var failed []int
	for _, f := range resp.BatchItemFailures {
		for i, r := range ev.Records {
			if strings.HasPrefix(f.ItemIdentifier, r.MessageId+"-") {
				failed = append(failed, i)
			}
		}
	}
	slices.Sort(failed)
	// 2: truncated JSON, 3: unknown type, 4: bad control digit, 5: version 2.
	if fmt.Sprint(failed) != "[2 3 4 5]" {
		t.Errorf("failed records: %v, want [2 3 4 5]", failed)
	}
	if got := w.sortKeys(w.pk(child)); len(got) != 1 {
		t.Errorf("good notice not applied once: %v", got)
	}
	logs := w.logs.String()
	for _, want := range []string{`"noticeId":"frg-2026-000998"`, "unsupported notice", "dead-letter"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func personKeyOf(pk string) personkey.Key { return personkey.Key(strings.TrimPrefix(pk, "P#")) }
