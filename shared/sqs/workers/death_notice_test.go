package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/testenv"
	"privacycore/shared/dynamo"
	"privacycore/shared/wire"
)

// deathNotice is the death fixture's notice (Ola), as SQS delivers it:
// its SentTimestamp is the same on every redelivery.
const deathNoticeID = "frg-2026-000101"

// noticeWorkerVia builds the wired notice worker on the world's stack with
// its AWS requests sent through client.
func (w *world) noticeWorkerVia(client aws.HTTPClient) wire.SQSHandler {
	w.t.Helper()
	f, ok := w.local.Function("NoticeWorkerFunction")
	if !ok {
		w.t.Fatal("template has no NoticeWorkerFunction")
	}
	cfg := w.local.AWS.Copy()
	if c, ok := client.(*crashClient); ok && cfg.HTTPClient != nil {
		c.next = cfg.HTTPClient
	}
	cfg.HTTPClient = client
	h, err := wire.NoticeWorker(wire.Env{AWS: cfg, Getenv: w.local.Getenv(f), Log: w.logs, Now: w.clock.Now})
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

// deliverDeath hands the death fixture to h; it reports whether the
// message succeeded.
func (w *world) deliverDeath(h wire.SQSHandler) bool {
	w.t.Helper()
	var ev events.SQSEvent
	testenv.LoadEvent(w.t, "notices/death.json", &ev)
	resp, err := h(context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	return len(resp.BatchItemFailures) == 0
}

// seedGrants gives Ola n powers of attorney given to Kari and n received
// from Kari, each with its twin in Kari's partition.
func (w *world) seedGrants(n int) {
	w.t.Helper()
	o, k := w.pk(ola), w.pk(kari)
	var items []map[string]any
	for i := range n {
		g, r := fmt.Sprintf("g%03d", i), fmt.Sprintf("r%03d", i)
		items = append(items,
			map[string]any{"pk": o, "sk": "POA#GIVEN#" + g, "grantId": g, "mirrorPk": k, "mirrorSk": "POA#RECEIVED#" + g},
			map[string]any{"pk": k, "sk": "POA#RECEIVED#" + g, "grantId": g, "mirrorPk": o, "mirrorSk": "POA#GIVEN#" + g},
			map[string]any{"pk": o, "sk": "POA#RECEIVED#" + r, "grantId": r, "mirrorPk": k, "mirrorSk": "POA#GIVEN#" + r},
			map[string]any{"pk": k, "sk": "POA#GIVEN#" + r, "grantId": r, "mirrorPk": o, "mirrorSk": "POA#RECEIVED#" + r})
	}
	testenv.BatchPut(w.t, w.local, items)
}

// deathEndState renders what a death notice leaves in Ola's and Kari's
// partitions, the ledger and the deletion job (see endState).
func (w *world) deathEndState() string {
	w.t.Helper()
	return w.endState(w.pk(ola), w.pk(kari), "NOTICE#"+deathNoticeID, "JOB#"+dynamo.DeathJobID(personKeyOf(w.pk(ola)), deathNoticeID))
}

// endState renders the items of the partitions pks, leaving out what differs
// between two runs of the same notices (history event ids, and the times a
// write took from the clock), sorted.
func (w *world) endState(pks ...string) string {
	w.t.Helper()
	var lines []string
	for _, pk := range pks {
		out, err := w.local.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
			TableName: aws.String(w.local.Table("PrivacyTable")), KeyConditionExpression: aws.String("pk = :pk"), ConsistentRead: aws.Bool(true),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, av := range out.Items {
			var it map[string]any
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				w.t.Fatal(err)
			}
			if sk := it["sk"].(string); strings.HasPrefix(sk, "CONSENTLOG#") {
				it["sk"] = sk[:strings.LastIndex(sk, "#")]
				delete(it, "id")
			}
			delete(it, "createdAt") // the job's
			delete(it, "expiresAt") // the ledger's
			if strings.HasPrefix(pk, "NOTICE#") {
				delete(it, "at")
			}
			it["pk"] = strings.Replace(strings.Replace(it["pk"].(string), w.pk(ola), "P#ola", 1), w.pk(kari), "P#kari", 1)
			b, _ := json.Marshal(it)
			lines = append(lines, string(b))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// crashClient passes AWS requests on, except that the failAt-th DynamoDB
// write (1-based) fails, as if the worker died there: before the request
// reaches the table or, with after, once it has been applied. It also
// lists the DynamoDB operations it saw.
type crashClient struct {
	next   aws.HTTPClient
	failAt int
	after  bool
	// beforeWrite, if set, runs once, before the first DynamoDB write (or
	// the hookAt-th, if set).
	beforeWrite func()
	hookAt      int

	mu     sync.Mutex
	writes int
	ops    []string
}

var dynamoWrites = []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

func (c *crashClient) Do(r *http.Request) (*http.Response, error) {
	target := r.Header.Get("X-Amz-Target")
	if !strings.HasPrefix(target, "DynamoDB_") {
		return c.next.Do(r)
	}
	op := target[strings.Index(target, ".")+1:]
	c.mu.Lock()
	c.ops = append(c.ops, op)
	fail := false
	if slices.Contains(dynamoWrites, op) {
		if c.writes == max(c.hookAt, 1)-1 && c.beforeWrite != nil {
			c.beforeWrite()
		}
		c.writes++
		fail = c.failAt > 0 && c.writes >= c.failAt
	}
	c.mu.Unlock()
	if !fail {
		return c.next.Do(r)
	}
	if c.after {
		resp, err := c.next.Do(r)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
	}
	body := `{"__type":"com.amazon.coral.validate#ValidationException","message":"injected crash"}`
	return &http.Response{StatusCode: 400, Status: "400 Bad Request", Request: r, ContentLength: int64(len(body)),
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, Body: io.NopCloser(strings.NewReader(body))}, nil
}

func (c *crashClient) count(ops ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, op := range c.ops {
		if len(ops) == 0 || slices.Contains(ops, op) {
			n++
		}
	}
	return n
}

func newCrashClient(failAt int, after bool) *crashClient {
	return &crashClient{next: http.DefaultClient, failAt: failAt, after: after}
}

// TestDeathNoticeTakesAtMostFourCalls counts every DynamoDB request the
// wired notice worker makes for one death notice of a person with consent
// and powers of attorney given and received (issue 14: at most 4), and
// that a duplicate reads once and writes nothing.
func TestDeathNoticeTakesAtMostFourCalls(t *testing.T) {
	w := newWorld(t)
	w.seedOla()     // consent, a grant given and one received
	w.seedGrants(3) // and three more each way
	c := newCrashClient(0, false)
	h := w.noticeWorkerVia(c)
	if !w.deliverDeath(h) {
		t.Fatalf("death notice failed:\n%s", w.logs.String())
	}
	if got := c.count(); got > 4 {
		t.Errorf("DynamoDB requests for one death notice: got %d %v, want at most 4", got, c.ops)
	}
	if got, want := c.ops, []string{"BatchGetItem", "Query", "TransactWriteItems"}; !slices.Equal(got, want) {
		t.Errorf("requests: got %v, want %v", got, want)
	}
	if hasPrefix(w.sortKeys(w.pk(ola)), "POA#") || hasPrefix(w.sortKeys(w.pk(kari)), "POA#") {
		t.Errorf("powers of attorney left: ola %v, kari %v", w.sortKeys(w.pk(ola)), w.sortKeys(w.pk(kari)))
	}
	due := time.UnixMilli(1795462200000).UTC().AddDate(0, 0, 30).Format("2006-01-02T15:04:05.000000000Z") // the fixture's SentTimestamp
	if m := w.item(w.pk(ola), "DECEASED"); m["status"] != "pending" || m["dueAt"] != due {
		t.Errorf("marker: %v, want pending, due 30 days after the notice was sent", m)
	}
	if l := w.item("NOTICE#"+deathNoticeID, "NOTICE"); l["outcome"] != "death_recorded" {
		t.Errorf("ledger: %v", l)
	}

	dup := newCrashClient(0, false)
	before := w.deathEndState()
	if !w.deliverDeath(w.noticeWorkerVia(dup)) {
		t.Fatal("duplicate failed")
	}
	if got := dup.ops; !slices.Equal(got, []string{"BatchGetItem"}) {
		t.Errorf("duplicate notice: requests %v, want one BatchGetItem and no writes", got)
	}
	if after := w.deathEndState(); after != before {
		t.Errorf("duplicate notice changed the state:\n%s\nwant\n%s", after, before)
	}
}

// TestDeathNoticeCrashAtEachWriteThenRedelivery gives Ola more powers of
// attorney than one transaction holds (so the notice writes three times),
// kills the worker at each write, before or after it reached the table,
// and redelivers: the end state is the same as that of an undisturbed run.
func TestDeathNoticeCrashAtEachWriteThenRedelivery(t *testing.T) {
	const grants = 60 // 120 grants, 240 items with their twins: two transactions of grants and the last one
	seeded := func(t *testing.T) *world {
		w := newWorld(t)
		w.seedOla()
		w.seedGrants(grants)
		return w
	}
	ref := seeded(t)
	c := newCrashClient(0, false)
	if !ref.deliverDeath(ref.noticeWorkerVia(c)) {
		t.Fatalf("death notice failed:\n%s", ref.logs.String())
	}
	if got, want := c.count("TransactWriteItems"), 3; got != want {
		t.Errorf("transactions: got %d, want %d (%v)", got, want, c.ops)
	}
	if got := c.count(); got != 5 {
		t.Errorf("DynamoDB requests: got %d %v, want 5 (a read, a Query, three transactions)", got, c.ops)
	}
	want := ref.deathEndState()
	for _, line := range []string{`"outcome":"death_recorded"`, `"status":"pending"`, `"channel":"registry"`, `"reason":"death"`} {
		if !strings.Contains(want, line) {
			t.Errorf("end state lacks %s:\n%s", line, want)
		}
	}
	if strings.Contains(want, "POA#") {
		t.Fatalf("powers of attorney left:\n%s", want)
	}
	_, hist := ref.api(ola, "history", "")
	if n := len(hist["items"].([]any)); n != 2 {
		t.Errorf("history: %d events, want give + one withdrawal", n)
	}

	for failAt := 1; failAt <= 3; failAt++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("write %d fails, applied %v", failAt, after), func(t *testing.T) {
				w := seeded(t)
				c := newCrashClient(failAt, after)
				if w.deliverDeath(w.noticeWorkerVia(c)) {
					t.Fatal("the crashing worker reported success")
				}
				if c.writes != failAt {
					t.Fatalf("writes before the crash: got %d, want %d", c.writes, failAt)
				}
				if !w.deliverDeath(w.notices) {
					t.Fatalf("redelivery failed:\n%s", w.logs.String())
				}
				if got := w.deathEndState(); got != want {
					t.Errorf("end state after a crash at write %d and a redelivery:\n%s\nwant\n%s", failAt, got, want)
				}
			})
		}
	}
}

// TestDeathNoticeHonoursAnAnnulmentThatArrivesMeanwhile: an annulment
// stored between the notice's read and its first write (also a write of
// grants that do not fit into the last transaction) cancels that write;
// the notice reads again and has no effect but its ledger entry.
func TestDeathNoticeHonoursAnAnnulmentThatArrivesMeanwhile(t *testing.T) {
	for _, grants := range []int{0, 60} {
		t.Run(fmt.Sprintf("%d more grants each way", grants), func(t *testing.T) {
			w := newWorld(t)
			w.seedOla()
			w.seedGrants(grants)
			poas := func() int {
				return testenv.CountPrefix(w.sortKeys(w.pk(ola)), "POA#") + testenv.CountPrefix(w.sortKeys(w.pk(kari)), "POA#")
			}
			before := poas()
			c := newCrashClient(0, false)
			c.beforeWrite = func() {
				w.put(map[string]any{"pk": w.pk(ola), "sk": "ANNULLED#" + deathNoticeID, "annulNoticeId": "frg-2026-000177", "at": "2026-11-20T10:00:00Z"})
			}
			if !w.deliverDeath(w.noticeWorkerVia(c)) {
				t.Fatalf("death notice failed:\n%s", w.logs.String())
			}
			if got, want := c.count("BatchGetItem"), 2; got != want {
				t.Errorf("reads: got %d, want %d (read again after the cancelled write): %v", got, want, c.ops)
			}
			if l := w.item("NOTICE#"+deathNoticeID, "NOTICE"); l["outcome"] != "death_annulled_before_arrival" {
				t.Errorf("ledger: %v", l)
			}
			if _, body := w.api(ola, "get", ""); body["status"] != "active" {
				t.Errorf("consent: %v, want still active", body)
			}
			if got := poas(); got != before {
				t.Errorf("power of attorney items: got %d, want all %d kept", got, before)
			}
			if sks := w.sortKeys(w.pk(ola)); hasPrefix(sks, "DECEASED") {
				t.Errorf("death recorded despite the annulment: %v", sks)
			}
		})
	}
}

// TestDeathNoticeAnnulledBetweenItsWrites: a person with more powers of
// attorney than one transaction takes. The death goes first (consent,
// marker, job, the grants that fit); an annulment that comes before the
// rest finds a recorded death and annuls it, and the grants not yet
// deleted stay with the living person. Never the state no order of the two
// notices gives: grants deleted beside an active consent and no death.
func TestDeathNoticeAnnulledBetweenItsWrites(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	w.seedGrants(60)
	poas := func() int {
		return testenv.CountPrefix(w.sortKeys(w.pk(ola)), "POA#") + testenv.CountPrefix(w.sortKeys(w.pk(kari)), "POA#")
	}
	before := poas()
	c := newCrashClient(0, false)
	c.hookAt = 2
	c.beforeWrite = func() {
		if _, err := w.stores().Deaths.AnnulDeath(context.Background(), w.key(ola), deathNoticeID, "frg-2026-000178", w.clock.Now()); err != nil {
			t.Error(err)
		}
	}
	if !w.deliverDeath(w.noticeWorkerVia(c)) {
		t.Fatalf("death notice failed:\n%s", w.logs.String())
	}
	if m := w.item(w.pk(ola), "DECEASED"); m["status"] != "annulled" {
		t.Errorf("marker: %v, want the recorded death annulled", m)
	}
	if _, body := w.api(ola, "get", ""); body["status"] != "withdrawn" {
		t.Errorf("consent: %v, want withdrawn by the death (an annulment does not give it back)", body)
	}
	if got := poas(); got == 0 || got >= before {
		t.Errorf("power of attorney items: %d of %d left, want those of the first write gone and the rest kept", got, before)
	}
}
