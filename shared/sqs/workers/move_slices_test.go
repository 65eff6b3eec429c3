package workers_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/testenv"
	"privacycore/shared/domain/notices"
	"privacycore/shared/dynamo"
	"privacycore/shared/platform/obs"
	"privacycore/shared/sqs/queue"
	"privacycore/shared/sqs/workers"
)

// TestLargeIDChangeContinuesInSlices moves a partition too large for one
// invocation: each invocation moves what its slice allows and requeues the
// notice; a crash in the middle of a slice is finished by the redelivery;
// the notice is recorded once, when the move is done, no message ever comes
// near the dead-letter queue, and every item is under the new key once,
// twins repointed.
func TestLargeIDChangeContinuesInSlices(t *testing.T) {
	const plain = 2600 // three pages of a move
	w := newWorld(t)
	if s, _ := w.api(dnum, "give", `{"level":"full"}`); s != 200 {
		t.Fatal(s)
	}
	oldPK, newPK, k := w.pk(dnum), w.pk(fnr), w.pk(kari)
	var items []map[string]any
	for i := range plain {
		items = append(items, map[string]any{"pk": oldPK, "sk": fmt.Sprintf("USAGE#2026-10-01#%05d", i), "service": "messages"})
	}
	items = append(items,
		map[string]any{"pk": oldPK, "sk": "POA#RECEIVED#g9", "grantId": "g9", "mirrorPk": k, "mirrorSk": "POA#GIVEN#g9"},
		map[string]any{"pk": k, "sk": "POA#GIVEN#g9", "grantId": "g9", "mirrorPk": oldPK, "mirrorSk": "POA#RECEIVED#g9"})
	testenv.BatchPut(t, w.local, items)
	before := len(w.sortKeys(oldPK))

	url := w.local.QueueURLs["NoticesQueue"]
	var ev events.SQSEvent
	testenv.LoadEvent(t, "notices/person-id-changed.json", &ev)
	if _, err := w.local.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &ev.Records[0].Body}); err != nil {
		t.Fatal(err)
	}
	worker := func(db dynamo.DB) *workers.Notices {
		s := dynamo.NewStores(db, w.local.Table("PrivacyTable"), w.clock.Now)
		p := &notices.Processor{Keys: w.keys, Ledger: s.Ledger, Deaths: s.Deaths, DeathNotices: s.DeathNotices, Relations: s.Relations, Mover: s.Mover, IDs: s.IDs,
			Requeue: queue.Single{SQS: w.local.SQS, QueueURL: url}, MoveSlice: time.Nanosecond, Now: w.clock.Now, Log: obs.NewLogger(io.Discard, nil)}
		return &workers.Notices{Processor: p, Log: obs.NewLogger(io.Discard, nil), Now: w.clock.Now}
	}
	healthy, crashing := worker(w.local.DynamoDB), worker(&failAfter{DB: w.local.DynamoDB, n: 2})
	invocations, failures := 0, 0
	for invocations < 40 {
		out, err := w.local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 1, VisibilityTimeout: 1, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		m := out.Messages[0]
		h := healthy
		if invocations == 1 {
			h = crashing
		}
		invocations++
		res, _ := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body),
			Attributes: map[string]string{"SentTimestamp": "1795462200000"}}}})
		if len(res.BatchItemFailures) > 0 {
			failures++
			continue
		}
		if _, err := w.local.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	if invocations < 4 || failures != 1 {
		t.Errorf("%d invocations, %d failed; want several slices and the one crash", invocations, failures)
	}
	if left := w.sortKeys(oldPK); len(left) != 0 {
		t.Errorf("%d items left under the old key, e.g. %s", len(left), left[0])
	}
	after := w.sortKeys(newPK)
	if len(after) != before {
		t.Errorf("moved %d items, want %d", len(after), before)
	}
	if n := strings.Count(strings.Join(after, ","), "USAGE#"); n != plain {
		t.Errorf("usage items under the new key: %d, want %d", n, plain)
	}
	if twin := w.item(k, "POA#GIVEN#g9"); twin["mirrorPk"] != newPK {
		t.Errorf("POA twin not repointed: %v", twin)
	}
	if got := w.item("NOTICE#frg-2026-000301", "NOTICE"); got["outcome"] != "person_id_changed" {
		t.Errorf("ledger: %v, want the notice recorded once the move is done", got)
	}
}
