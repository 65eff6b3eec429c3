package workers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain/deletion"
	"privacycore/shared/dynamo"
)

// TestPurgeMessageBeforeDueDeletesNothing sends the purge message of a death
// job by hand (as a redrive or an operator would) at several moments before
// its due time: nothing is deleted, the job stays pending, the refusal is
// logged and counted. At the due time the same message purges.
func TestPurgeMessageBeforeDueDeletesNothing(t *testing.T) {
	w := newWorld(t)
	w.seedOla()
	w.deliverOK("death")
	o := w.pk(ola)
	jobID := dynamo.DeathJobID(personKeyOf(o), "frg-2026-000101")
	before := w.sortKeys(o)

	purge := func() events.SQSEventResponse {
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-" + time.Now().Format("150405.000000"), Body: deletion.Encode(jobID)}}}
		resp, err := w.purge(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, ahead := range []time.Duration{0, 24 * time.Hour, 29 * 24 * time.Hour, 30*24*time.Hour - 2*time.Second} {
		if ahead > 0 {
			w.clock.Advance(ahead - w.clock.Now().Sub(day0))
		}
		if resp := purge(); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%v after the notice: the message failed (%v); a not-due job must be left alone, not retried", ahead, resp.BatchItemFailures)
		}
		if got := w.sortKeys(o); strings.Join(got, ",") != strings.Join(before, ",") {
			t.Fatalf("%v after the notice: the partition changed:\n got %v\nwant %v", ahead, got, before)
		}
		if st := w.item("JOB#"+jobID, "JOB")["status"]; st != "pending" {
			t.Fatalf("%v after the notice: job status %v, want pending", ahead, st)
		}
	}
	logs := w.logs.String()
	if n := strings.Count(logs, "purge refused: job not due yet"); n != 4 {
		t.Errorf("refusals logged: got %d, want 4", n)
	}
	if !strings.Contains(logs, `"PurgesNotDue"`) {
		t.Errorf("the refusal was not counted (no PurgesNotDue metric)")
	}

	w.clock.Advance(31*24*time.Hour - w.clock.Now().Sub(day0))
	if resp := purge(); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("due purge failed: %v", resp.BatchItemFailures)
	}
	if got := w.sortKeys(o); len(got) != 2 {
		t.Errorf("after the due purge: %v, want DECEASED and the receipt", got)
	}
}
