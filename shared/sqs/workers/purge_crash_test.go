package workers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"privacycore/shared/domain/deletion"
	"privacycore/shared/dynamo"
	"privacycore/shared/platform/obs"
)

// failAfter lets n BatchWriteItem calls through, then fails them all, like
// a purge worker killed half-way through its deletes.
type failAfter struct {
	dynamo.DB
	mu sync.Mutex
	n  int
}

func (f *failAfter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	f.n--
	ok := f.n >= 0
	f.mu.Unlock()
	if !ok {
		return nil, errors.New("injected crash")
	}
	return f.DB.BatchWriteItem(ctx, in, o...)
}

func TestPurgeKilledHalfWayCompletesOnRetry(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	o := w.pk(ola)
	var extra []map[string]any
	for i := range 120 {
		extra = append(extra, map[string]any{"pk": o, "sk": fmt.Sprintf("USAGE#2026-10-%03d", i), "service": "messages"})
	}
	w.put(extra...)
	w.deliverOK("death")
	w.clock.Advance(31 * 24 * time.Hour)
	jobID := dynamo.DeathJobID(personKeyOf(o), "frg-2026-000101")

	table := w.local.Table("PrivacyTable")
	for _, crashAfter := range []int{0, 1, 2} {
		broken := dynamo.NewStores(&failAfter{DB: w.local.DynamoDB, n: crashAfter}, table, w.clock.Now)
		broken.Table.PageLimit = 40
		p := &deletion.Purger{Jobs: broken.Jobs, Receipts: broken.Consent, Eraser: broken.Eraser, Deaths: broken.Deaths, Now: w.clock.Now, Log: obs.NewLogger(io.Discard, nil)}
		if err := p.Purge(context.Background(), deletion.Message{Version: 1, JobID: jobID}); err == nil || !strings.Contains(err.Error(), "injected crash") {
			t.Fatalf("crash after %d batches: got %v, want the injected crash", crashAfter, err)
		}
	}
	if left := len(w.sortKeys(o)); left < 20 {
		t.Fatalf("the crashes should leave work behind; %d items left", left)
	}
	healthy := dynamo.NewStores(w.local.DynamoDB, table, w.clock.Now)
	p := &deletion.Purger{Jobs: healthy.Jobs, Receipts: healthy.Consent, Eraser: healthy.Eraser, Deaths: healthy.Deaths, Now: w.clock.Now, Log: obs.NewLogger(io.Discard, nil)}
	if err := p.Purge(context.Background(), deletion.Message{Version: 1, JobID: jobID}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	left := w.sortKeys(o)
	if len(left) != 2 || left[0] != "DECEASED" || left[1] != "RECEIPT#"+jobID {
		t.Fatalf("after retry: %v", left)
	}
	r := w.item(o, "RECEIPT#"+jobID)
	if got, want := fmt.Sprint(r["deleted"]), "map[consent:1 consentlog:2 optout:1 profile:1 usage:122]"; got != want || r["status"] != "done" {
		t.Errorf("receipt: got %s %v, want %s done", got, r["status"], want)
	}
	job, _, _ := healthy.Jobs.Job(context.Background(), jobID)
	if job.Status != deletion.StatusDone {
		t.Errorf("job status %s, want done", job.Status)
	}
	// The message may be delivered again: a finished job is a no-op.
	if err := p.Purge(context.Background(), deletion.Message{Version: 1, JobID: jobID}); err != nil {
		t.Errorf("purge of a done job: %v", err)
	}
}
