package workers_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/infra/devjwt"
	"privacycore/infra/localrun"
	"privacycore/infra/testenv"
	"privacycore/shared/platform/obs"
)

// TestPoisonNoticesEndInTheDeadLetterQueue runs the real notice worker
// behind the local runner's SQS poller on the template's queues: the good
// notices of a mixed batch are applied once, the poison ones are retried
// until maxReceiveCount (5 in template.yaml) and then sit in the DLQ.
func TestPoisonNoticesEndInTheDeadLetterQueue(t *testing.T) {
	w := newWorld(t)
	r, err := localrun.New(w.local, localrun.Registry, devjwt.Verifier{}, w.logs, obs.NewLogger(io.Discard, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.RetryDelay = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); r.Wait() }()

	var batch events.SQSEvent
	testenv.LoadEvent(t, "notices/batch-mixed.json", &batch)
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, rec := range batch.Records {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), MessageBody: aws.String(rec.Body)})
	}
	q, dlq := w.local.QueueURLs["NoticesQueue"], w.local.QueueURLs["NoticesDeadLetterQueue"]
	if _, err := w.local.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q, Entries: entries}); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}

	var dead []string
	deadline := time.Now().Add(30 * time.Second)
	for len(dead) < 4 && time.Now().Before(deadline) {
		out, err := w.local.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			dead = append(dead, aws.ToString(m.Body))
		}
	}
	if len(dead) != 4 {
		t.Fatalf("dead-letter queue holds %d messages after 30s, want the 4 poison ones", len(dead))
	}
	slices.Sort(dead)
	for i, want := range []string{`"type":"death",`, `14838500074`, `"type":"marriage"`, `"version":2`} {
		if !slices.ContainsFunc(dead, func(b string) bool { return strings.Contains(b, want) }) {
			t.Errorf("DLQ lacks the poison message %d (%s): %v", i, want, dead)
		}
	}
	// The good notices were applied, once each.
	if got := w.sortKeys(w.pk(child)); len(got) != 1 {
		t.Errorf("child's relations: %v, want exactly one", got)
	}
	if got := w.item("NOTICE#frg-2026-000301", "NOTICE"); got["outcome"] != "person_id_changed" {
		t.Errorf("id-change notice: %v", got)
	}
	if n := strings.Count(w.logs.String(), `"outcome":"parental_responsibility_set"`); n != 1 {
		t.Errorf("parental notice applied %d times, want 1 (the duplicate is a no-op)", n)
	}
}
