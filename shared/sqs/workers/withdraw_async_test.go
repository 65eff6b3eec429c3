package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/apispec"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/dynamo"
	"privacycore/shared/platform/obs"
	"privacycore/shared/sqs/queue"
	"privacycore/shared/sqs/workers"
	"privacycore/shared/wire"
)

// consentWith builds the consent function with some environment overridden.
func (w *world) consentWith(over map[string]string) wire.HTTPHandler {
	w.t.Helper()
	f, _ := w.local.Function("ConsentFunction")
	base := w.local.Getenv(f)
	h, err := wire.ConsentAPI(wire.Env{AWS: w.local.AWS, Getenv: func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return base(k)
	}, Log: w.logs, Now: w.clock.Now})
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func (w *world) call(h wire.HTTPHandler, pid, fixture string, edit func(*events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPResponse {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, "consent/"+fixture+".json")
	ev.RequestContext.Authorizer.JWT.Claims["pid"] = pid
	if edit != nil {
		edit(&ev)
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, resp)
	return resp
}

type receiptBody struct {
	ID      string         `json:"id"`
	Status  string         `json:"status"`
	Deleted map[string]int `json:"deleted"`
}

func decodeReceipt(t *testing.T, body string) receiptBody {
	t.Helper()
	var r receiptBody
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("receipt body %q: %v", body, err)
	}
	return r
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestLargeWithdrawalAnswers202AndFinishesInSlices withdraws consent for a
// person with more data than one request may erase: the answer is 202 with
// the receipt's location, consent is withdrawn at once, the receipt shows
// its progress, and the purge worker finishes the job one slice (one page)
// per invocation, each continuing itself, through a crash in the middle,
// with exact counts at the end.
func TestLargeWithdrawalAnswers202AndFinishesInSlices(t *testing.T) {
	const usage = 3*dynamo.ErasePage + 123
	w := newWorld(t)
	w.seedOla()
	o := w.pk(ola)
	var items []map[string]any
	for i := range usage - 2 { // seedOla has two usage items
		items = append(items, map[string]any{"pk": o, "sk": fmt.Sprintf("USAGE#2026-10-01#%05d", i), "service": "messages"})
	}
	testenv.BatchPut(t, w.local, items)

	h := w.consentWith(map[string]string{"WITHDRAW_BUDGET_MS": "1"})
	resp := w.call(h, ola, "withdraw-cascade", nil)
	if resp.StatusCode != 202 {
		t.Fatalf("withdraw: got %d %s, want 202", resp.StatusCode, resp.Body)
	}
	r := decodeReceipt(t, resp.Body)
	if loc := resp.Headers["Location"]; loc != "/v1/consent/receipts/"+r.ID {
		t.Errorf("Location: got %q, want the receipt's path", loc)
	}
	if r.Status != "deleting" || sum(r.Deleted) == 0 || sum(r.Deleted) >= usage {
		t.Errorf("202 body: got %+v, want deleting with the counts of the first slice", r)
	}
	if _, st := w.api(ola, "get", ""); st["status"] != "withdrawn" {
		t.Errorf("consent after 202: %v, want withdrawn at once", st)
	}
	readReceipt := func() receiptBody {
		resp := w.call(h, ola, "receipt", func(e *events.APIGatewayV2HTTPRequest) {
			e.PathParameters = map[string]string{"id": r.ID}
			e.RawPath = "/v1/consent/receipts/" + r.ID
		})
		if resp.StatusCode != 200 {
			t.Fatalf("read receipt: %d %s", resp.StatusCode, resp.Body)
		}
		return decodeReceipt(t, resp.Body)
	}
	if got := readReceipt(); got.Status != "deleting" || sum(got.Deleted) != sum(r.Deleted) {
		t.Errorf("receipt read back: got %+v, want %+v", got, r)
	}
	// Withdrawing again while the job runs returns the same receipt.
	if again := w.call(h, ola, "withdraw-cascade", nil); again.StatusCode != 202 || decodeReceipt(t, again.Body).ID != r.ID {
		t.Errorf("second withdrawal: %d %s", again.StatusCode, again.Body)
	}

	// The purge worker: one page per invocation.
	table := w.local.Table("PrivacyTable")
	url := w.local.QueueURLs["PurgeQueue"]
	worker := func(db dynamo.DB) *workers.Purges {
		s := dynamo.NewStores(db, table, w.clock.Now)
		p := &deletion.Purger{Jobs: s.Jobs, Receipts: s.Consent, Eraser: s.Eraser, Deaths: s.Deaths, Now: w.clock.Now, Log: obs.NewLogger(io.Discard, nil),
			Continue: queue.Sender{SQS: w.local.SQS, QueueURL: url}, Slice: 1}
		return &workers.Purges{Purger: p, Log: obs.NewLogger(io.Discard, nil)}
	}
	healthy := worker(w.local.DynamoDB)
	crashing := worker(&failAfter{DB: w.local.DynamoDB, n: 3})
	invocations, crashed, last := 0, false, sum(r.Deleted)
	for invocations < 50 {
		out, err := w.local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 1, VisibilityTimeout: 1, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		m := out.Messages[0]
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)}}}
		h := healthy
		if invocations == 2 && !crashed {
			h, crashed = crashing, true
		}
		invocations++
		res, _ := h.Handle(context.Background(), ev)
		if len(res.BatchItemFailures) > 0 {
			continue // SQS redelivers it after the visibility timeout
		}
		if _, err := w.local.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
		if got := readReceipt(); got.Status == "deleting" {
			if n := sum(got.Deleted); n < last {
				t.Errorf("receipt counts went back: %d after %d", n, last)
			}
			last = sum(got.Deleted)
		}
	}
	if !crashed || invocations < 4 {
		t.Errorf("%d invocations (crashed: %v); want several slices and one crash", invocations, crashed)
	}
	got := readReceipt()
	want := map[string]int{"usage": usage, "profile": 1, "poa": 2}
	if got.Status != "done" || fmt.Sprint(got.Deleted) != fmt.Sprint(want) {
		t.Errorf("final receipt: got %+v, want done with %v", got, want)
	}
	left := w.sortKeys(o)
	for _, sk := range left {
		if strings.HasPrefix(sk, "USAGE#") || strings.HasPrefix(sk, "POA#") || strings.HasPrefix(sk, "PROFILE#") {
			t.Fatalf("data left after done: %s (of %d items)", sk, len(left))
		}
	}
	if hasPrefix(w.sortKeys(w.pk(kari)), "POA#") {
		t.Errorf("a twin in kari's partition survived")
	}
	if st := w.item("JOB#"+r.ID, "JOB")["status"]; st != "done" {
		t.Errorf("job status %v, want done", st)
	}
}

// TestSmallWithdrawalStillAnswers200 keeps the synchronous answer for a
// partition erased within the budget, and leaves no open job behind.
func TestSmallWithdrawalStillAnswers200(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	resp := w.call(w.consent, ola, "withdraw-cascade", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("withdraw: %d %s", resp.StatusCode, resp.Body)
	}
	r := decodeReceipt(t, resp.Body)
	if r.Status != "done" || r.Deleted["usage"] != 2 {
		t.Errorf("receipt: %+v", r)
	}
	if st := w.item("JOB#"+r.ID, "JOB")["status"]; st != "done" {
		t.Errorf("job status %v, want done (nothing left for the sweeper)", st)
	}
	if n := w.sweepAndPurge(); n != 0 {
		t.Errorf("sweep after a finished withdrawal queued %d jobs", n)
	}
}
