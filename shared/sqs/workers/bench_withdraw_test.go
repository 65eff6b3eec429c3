package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/wire"
)

// ddbCounter counts the DynamoDB requests a function's client sends (every
// HTTP request whose X-Amz-Target names DynamoDB: one round trip each).
type ddbCounter struct {
	next  aws.HTTPClient
	n     atomic.Int64
	trace func(string)
}

func (c *ddbCounter) Do(r *http.Request) (*http.Response, error) {
	target := r.Header.Get("X-Amz-Target")
	if strings.HasPrefix(target, "DynamoDB_") {
		c.n.Add(1)
	}
	start := time.Now()
	resp, err := c.next.Do(r)
	if c.trace != nil {
		c.trace(fmt.Sprintf("%s %v", target, time.Since(start).Round(time.Millisecond)))
	}
	return resp, err
}

// envFor is a function's environment on local, with a counting HTTP client
// and some variables overridden.
func envFor(tb testing.TB, local *stack.Local, fn string, counter *ddbCounter, over map[string]string) wire.Env {
	tb.Helper()
	f, ok := local.Function(fn)
	if !ok {
		tb.Fatalf("template has no %s", fn)
	}
	base := local.Getenv(f)
	cfg := local.AWS.Copy()
	if counter != nil {
		counter.next = cfg.HTTPClient
		if counter.next == nil {
			counter.next = http.DefaultClient
		}
		cfg.HTTPClient = counter
	}
	return wire.Env{AWS: cfg, Getenv: func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return base(k)
	}, Log: io.Discard, Now: time.Now}
}

// drain hands every message of queue to h, as Lambda's poller would, with
// a Lambda-like deadline, until the queue stays empty. It returns how many
// messages failed maxReceiveCount times (would be in the dead-letter queue).
func drain(tb testing.TB, local *stack.Local, queue string, h wire.SQSHandler, timeout time.Duration, stop func() bool) (dead int) {
	tb.Helper()
	url := local.QueueURLs[queue]
	receives := map[string]int{}
	for idle := 0; !stop() && idle < 60; {
		out, err := local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 1, VisibilityTimeout: 1, WaitTimeSeconds: 1})
		if err != nil {
			tb.Fatal(err)
		}
		if len(out.Messages) == 0 {
			idle++ // nothing in flight for a minute: give up waiting
			continue
		}
		idle = 0
		m := out.Messages[0]
		body := aws.ToString(m.Body)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		res, err := h(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: body,
			Attributes: map[string]string{"SentTimestamp": fmt.Sprint(time.Now().UnixMilli())}}}})
		cancel()
		if err == nil && len(res.BatchItemFailures) == 0 {
			if _, err := local.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		receives[body]++
		if receives[body] >= 5 { // maxReceiveCount in template.yaml
			dead++
			_, _ = local.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
		}
	}
	return dead
}

func seedUsage(tb testing.TB, local *stack.Local, pk string, n int) {
	tb.Helper()
	items := make([]map[string]any, 0, n)
	for i := range n {
		items = append(items, map[string]any{"pk": pk, "sk": fmt.Sprintf("USAGE#2026-10-01T10:00:00Z#%06d", i), "service": "messages", "by": "self"})
	}
	testenv.BatchPut(tb, local, items)
}

// BenchmarkWithdraw100k withdraws consent for a person with 100,000 items
// through the real consent and purge functions (template defaults: an
// 800 ms budget in the request, 40 s slices in the purge worker). It
// reports how long DELETE /v1/consent takes to answer, how long until the
// receipt reads done, and the process's peak heap while erasing.
func BenchmarkWithdraw100k(b *testing.B) {
	n := benchItems()
	local := testenv.New(b)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	trace := &ddbCounter{}
	if os.Getenv("BENCH_TRACE") != "" {
		trace.trace = func(s string) { fmt.Fprintln(os.Stderr, "trace", time.Now().Format("15:04:05.000"), s) }
	}
	consentFn, err := wire.ConsentAPI(envFor(b, local, "ConsentFunction", trace, nil))
	if err != nil {
		b.Fatal(err)
	}
	purgeFn, err := wire.PurgeWorker(envFor(b, local, "PurgeWorkerFunction", nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	var apiMS, doneS, heapMB, txnMS, queryMS float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := nin.ForTest(nin.Date{Year: 1960 + i, Month: 3, Day: 1}, true)
		ev := testenv.HTTPEvent(b, "consent/give.json")
		ev.RequestContext.Authorizer.JWT.Claims["pid"] = id.Digits()
		if r, _ := consentFn(context.Background(), ev); r.StatusCode != 200 {
			b.Fatalf("give: %d %s", r.StatusCode, r.Body)
		}
		pk, other := dynamo.PersonPK(keys.Key(id)), dynamo.PersonPK(keys.Key(nin.ForTest(nin.Date{Year: 1980, Month: 3, Day: 3}, true)))
		seedGrantPairs(b, local, pk, other, i)
		seedUsage(b, local, dynamo.PersonPK(keys.Key(id)), n)
		floorTxn, floorQuery := emulatorFloor(b, local, i)
		txnMS += float64(floorTxn.Milliseconds())
		queryMS += float64(floorQuery.Milliseconds())
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				select {
				case <-stopSampling:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}()

		// The person gave powers of attorney (seeded above): withdrawing
		// confirms that it deletes them, as the portal asks.
		wd := testenv.HTTPEvent(b, "consent/withdraw-cascade.json")
		wd.RequestContext.Authorizer.JWT.Claims["pid"] = id.Digits()
		b.StartTimer()
		start := time.Now()
		r, _ := consentFn(context.Background(), wd)
		api := time.Since(start)
		if r.StatusCode != 202 && r.StatusCode != 200 {
			b.Fatalf("withdraw: %d %s", r.StatusCode, r.Body)
		}
		var receipt struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(r.Body), &receipt)
		done := func() bool {
			rev := testenv.HTTPEvent(b, "consent/receipt.json")
			rev.RequestContext.Authorizer.JWT.Claims["pid"] = id.Digits()
			rev.PathParameters = map[string]string{"id": receipt.ID}
			rr, _ := consentFn(context.Background(), rev)
			return strings.Contains(rr.Body, `"status":"done"`)
		}
		if dead := drain(b, local, "PurgeQueue", purgeFn, 60*time.Second, done); dead > 0 {
			b.Fatalf("%d purge messages would be in the dead-letter queue", dead)
		}
		total := time.Since(start)
		b.StopTimer()
		close(stopSampling)
		<-sampled
		apiMS += float64(api.Milliseconds())
		doneS += total.Seconds()
		heapMB = max(heapMB, float64(peak.Load())/(1<<20))
		if left := len(testenv.SortKeys(b, local, dynamo.PersonPK(keys.Key(id)))); left > 10 {
			b.Fatalf("%d items left after done", left)
		}
		b.StartTimer()
	}
	iters := float64(b.N)
	b.ReportMetric(apiMS/iters, "api-ms/op")
	b.ReportMetric(doneS/iters, "done-s/op")
	b.ReportMetric(heapMB, "peak-heap-MB")
	// What the emulator charges, on this table, for one transaction of three
	// small puts and one Query of a one-item partition: the request's floor
	// here (DynamoDB answers both in milliseconds whatever the table's size).
	b.ReportMetric(txnMS/iters, "emulator-txn-ms")
	b.ReportMetric(queryMS/iters, "emulator-query-ms")
	fmt.Printf("withdraw_100k_api_ms=%d\n", int(apiMS/iters+0.5))
	fmt.Printf("withdraw_100k_done_s=%d\n", int(doneS/iters+0.5))
	fmt.Printf("erase_peak_heap_mb_100k=%d\n", int(heapMB+0.999))
	// The emulator's floor for the request on this table (not a goal line).
	fmt.Printf("emulator_txn_ms_100k=%d\n", int(txnMS/iters+0.5))
	fmt.Printf("emulator_query_ms_100k=%d\n", int(queryMS/iters+0.5))
}

// BenchmarkDeathNoticeCalls counts the DynamoDB requests the wired notice
// worker makes for one death notice (a person with consent, three powers
// of attorney given and three received, each with its twin); the test
// TestDeathNoticeTakesAtMostFourCalls holds it to at most 4.
func BenchmarkDeathNoticeCalls(b *testing.B) {
	local := testenv.New(b)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	counter := &ddbCounter{}
	h, err := wire.NoticeWorker(envFor(b, local, "NoticeWorkerFunction", counter, nil))
	if err != nil {
		b.Fatal(err)
	}
	consentFn, err := wire.ConsentAPI(envFor(b, local, "ConsentFunction", nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	var calls int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := nin.ForTest(nin.Date{Year: 1940 + i%60, Month: time.Month(1 + i/60), Day: 2}, true)
		ev := testenv.HTTPEvent(b, "consent/give.json")
		ev.RequestContext.Authorizer.JWT.Claims["pid"] = id.Digits()
		if r, _ := consentFn(context.Background(), ev); r.StatusCode != 200 {
			b.Fatalf("give: %d %s", r.StatusCode, r.Body)
		}
		pk, other := dynamo.PersonPK(keys.Key(id)), dynamo.PersonPK(keys.Key(nin.ForTest(nin.Date{Year: 1980, Month: 3, Day: 3}, true)))
		seedGrantPairs(b, local, pk, other, i)
		body := fmt.Sprintf(`{"version":1,"noticeId":"bench-death-%d","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"%s"}`, i, id.Digits())
		counter.n.Store(0)
		b.StartTimer()
		res, err := h(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: fmt.Sprint(i), Body: body,
			Attributes: map[string]string{"SentTimestamp": fmt.Sprint(time.Now().UnixMilli())}}}})
		b.StopTimer()
		if err != nil || len(res.BatchItemFailures) > 0 {
			b.Fatalf("death notice failed: %v %v", err, res.BatchItemFailures)
		}
		calls += counter.n.Load()
		if left := testenv.CountPrefix(testenv.SortKeys(b, local, pk), "POA#"); left > 0 {
			b.Fatalf("%d powers of attorney left", left)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(calls)/float64(b.N), "ddb-calls/notice")
	fmt.Printf("death_notice_calls=%d\n", (calls+int64(b.N)-1)/int64(b.N))
}

// BenchmarkMove100k sends a person-id change for a person with 100,000
// items through the real notice worker (29 s deadline per invocation, the
// template's timeout) and counts the messages that fail maxReceiveCount
// times, that is, that would reach the dead-letter queue.
func BenchmarkMove100k(b *testing.B) {
	n := benchItems()
	local := testenv.New(b)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	h, err := wire.NoticeWorker(envFor(b, local, "NoticeWorkerFunction", nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	dead, moveS := 0, 0.0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		from := nin.ForTest(nin.Date{Year: 1970 + i, Month: 5, Day: 5}, true)
		to := nin.ForTest(nin.Date{Year: 1970 + i, Month: 5, Day: 6}, true)
		seedUsage(b, local, dynamo.PersonPK(keys.Key(from)), n)
		noticeID := fmt.Sprintf("bench-move-%d", i)
		body := fmt.Sprintf(`{"version":1,"noticeId":"%s","type":"person_id_changed","eventTime":"2026-11-21T10:00:00Z","previous":"%s","current":"%s"}`,
			noticeID, from.Digits(), to.Digits())
		url := local.QueueURLs["NoticesQueue"]
		if _, err := local.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}); err != nil {
			b.Fatal(err)
		}
		recorded := func() bool { return len(testenv.SortKeys(b, local, "NOTICE#"+noticeID)) > 0 }
		start := time.Now()
		b.StartTimer()
		dead += drain(b, local, "NoticesQueue", h, 29*time.Second, func() bool { return recorded() })
		b.StopTimer()
		moveS += time.Since(start).Seconds()
		if left := len(testenv.SortKeys(b, local, dynamo.PersonPK(keys.Key(from)))); left != 0 {
			b.Fatalf("%d items left under the old key", left)
		}
		b.StartTimer()
	}
	b.ReportMetric(moveS/float64(b.N), "move-s/op")
	dlq := 0
	if dead > 0 {
		dlq = 1
	}
	fmt.Printf("move_100k_dlq=%d\n", dlq)
}

// emulatorFloor times one TransactWriteItems (three small puts, the shape
// of a consent change) and one Query of a one-item partition on local's
// table as it is now.
func emulatorFloor(b *testing.B, local *stack.Local, i int) (txn, query time.Duration) {
	b.Helper()
	table := local.Table("PrivacyTable")
	pk := &dbtypes.AttributeValueMemberS{Value: fmt.Sprintf("P#floor-%d", i)}
	var items []dbtypes.TransactWriteItem
	for j := range 3 {
		items = append(items, dbtypes.TransactWriteItem{Put: &dbtypes.Put{TableName: &table, Item: map[string]dbtypes.AttributeValue{
			"pk": pk, "sk": &dbtypes.AttributeValueMemberS{Value: fmt.Sprintf("X#%d", j)}}}})
	}
	start := time.Now()
	if _, err := local.DynamoDB.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		b.Fatal(err)
	}
	txn = time.Since(start)
	start = time.Now()
	if _, err := local.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":pk": pk}}); err != nil {
		b.Fatal(err)
	}
	return txn, time.Since(start)
}

// seedGrantPairs gives the person at pk three powers of attorney to other
// and three from other, each with its twin (run i names them).
func seedGrantPairs(b *testing.B, local *stack.Local, pk, other string, i int) {
	var grants []map[string]any
	for j := range 3 {
		g, r := fmt.Sprintf("g%d-%d", i, j), fmt.Sprintf("r%d-%d", i, j)
		grants = append(grants,
			map[string]any{"pk": pk, "sk": "POA#GIVEN#" + g, "grantId": g, "mirrorPk": other, "mirrorSk": "POA#RECEIVED#" + g},
			map[string]any{"pk": other, "sk": "POA#RECEIVED#" + g, "grantId": g, "mirrorPk": pk, "mirrorSk": "POA#GIVEN#" + g},
			map[string]any{"pk": pk, "sk": "POA#RECEIVED#" + r, "grantId": r, "mirrorPk": other, "mirrorSk": "POA#GIVEN#" + r},
			map[string]any{"pk": other, "sk": "POA#GIVEN#" + r, "grantId": r, "mirrorPk": pk, "mirrorSk": "POA#RECEIVED#" + r})
	}
	testenv.BatchPut(b, local, grants)
}

// benchItems is the size of the 100k runs: 100,000, or BENCH_ITEMS for a
// quicker look at the same path (the headline figures are at 100,000).
func benchItems() int {
	if v, err := strconv.Atoi(os.Getenv("BENCH_ITEMS")); err == nil && v > 0 {
		return v
	}
	return 100_000
}
