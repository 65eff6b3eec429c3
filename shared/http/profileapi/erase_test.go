package profileapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/shared/wire"
)

// profileItems picks the profile's sort keys out of a partition listing.
func profileItems(sks []string) []string {
	var out []string
	for _, sk := range sks {
		if strings.HasPrefix(sk, "PROFILE#") {
			out = append(out, sk)
		}
	}
	return out
}

func TestWithdrawalErasesEveryProfileItem(t *testing.T) {
	f := newFixture(t)
	f.give(kari)
	f.fillProfile(kari)
	pk := f.pk(kari)
	if got := profileItems(f.sortKeys(pk)); len(got) != 8 {
		t.Fatalf("before: %d profile items %v, want 8 (every kind)", len(got), got)
	}

	r := f.withdraw(kari)
	if r.Status != 200 || fmt.Sprint(r.Body["deleted"]) != "map[profile:8]" || r.Body["status"] != "done" {
		t.Fatalf("withdraw: %d %s, want a done receipt counting 8 profile items", r.Status, r.Raw)
	}
	sks := f.sortKeys(pk)
	if got, want := kinds(sks), map[string]int{"CONSENT": 1, "CONSENTLOG": 2, "RECEIPT": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("left in the partition: %v (%v), want only the consent records and the receipt %v", got, sks, want)
	}

	// Consenting again finds an empty profile.
	f.give(kari)
	r = f.do("get")
	if r.Status != 200 || fmt.Sprint(r.Body["nextOfKin"]) != "map[items:[] version:0]" || r.Body["employer"] != nil ||
		r.Body["communicationNeeds"] != nil || fmt.Sprint(r.Body["logins"], r.Body["appPermissions"]) != "[] []" ||
		fmt.Sprint(r.Body["notification"]) != "map[channel:sms effective:[sms] source:self]" {
		t.Errorf("profile after consenting again: %s", r.Raw)
	}
}

// TestDeathPurgeErasesEveryProfileItem runs the death notice, the sweeper
// and the purge worker as deployed: at death the profile goes out of reach
// (consent withdrawn) but stays; 30 days later nothing of it is left.
func TestDeathPurgeErasesEveryProfileItem(t *testing.T) {
	f := newFixture(t)
	notices, err := wire.NoticeWorker(f.env("NoticeWorkerFunction"))
	if err != nil {
		t.Fatal(err)
	}
	sweep, err := wire.Sweeper(f.env("SweeperFunction"))
	if err != nil {
		t.Fatal(err)
	}
	purge, err := wire.PurgeWorker(f.env("PurgeWorkerFunction"))
	if err != nil {
		t.Fatal(err)
	}
	f.give(ola)
	f.fillProfile(ola)
	pk := f.pk(ola)

	f.deliver(notices, "death")
	if r := f.do("get", withPID(ola)); r.Status != 403 || r.Body["code"] != "consent_required" {
		t.Errorf("profile after death: %d %s, want 403 consent_required", r.Status, r.Raw)
	}
	if got := profileItems(f.sortKeys(pk)); len(got) != 8 {
		t.Fatalf("profile deleted before day 30: %v", got)
	}

	f.clock.Advance(30*24*time.Hour + time.Hour)
	if _, err := sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if n := f.drainPurges(purge); n != 1 {
		t.Fatalf("purge messages: %d, want 1", n)
	}
	left := f.sortKeys(pk)
	if len(left) != 2 || left[0] != "DECEASED" || !strings.HasPrefix(left[1], "RECEIPT#") {
		t.Fatalf("after the purge: %v, want only DECEASED and the receipt", left)
	}
	receipt := f.items(pk)[1]
	if deleted := receipt["deleted"].(map[string]any); deleted["profile"] != 8.0 {
		t.Errorf("receipt counts %v, want profile: 8", deleted)
	}
}

// drainPurges hands everything on the purge queue to the purge worker, as
// Lambda's poller would, and returns how many messages there were.
func (f *fixture) drainPurges(h wire.SQSHandler) int {
	f.t.Helper()
	url := f.local.QueueURLs["PurgeQueue"]
	n := 0
	for {
		out, err := f.local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
		if err != nil {
			f.t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return n
		}
		var ev events.SQSEvent
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body)})
		}
		if resp, err := h(context.Background(), ev); err != nil || len(resp.BatchItemFailures) > 0 {
			f.t.Fatalf("purge: %v %v\n%s", err, resp.BatchItemFailures, f.logs.String())
		}
		for _, m := range out.Messages {
			if _, err := f.local.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				f.t.Fatal(err)
			}
		}
		n += len(out.Messages)
	}
}
