package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// putSCR writes n entries of the person's summary care record (generation 0).
func (w *world) putSCR(pid string, n int) {
	w.t.Helper()
	for i := range n {
		_, err := w.local.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(w.local.Table("PrivacyTable")), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "P#" + string(w.key(pid))}, "sk": &types.AttributeValueMemberS{Value: fmt.Sprintf("SCR#g0#entry%d", i)},
		}})
		if err != nil {
			w.t.Fatal(err)
		}
	}
}

// TestSCRSurvivesWithdrawal: the summary care record is the national
// record, not portal data: withdrawing consent (portal, adult form, child
// form) leaves it and its settings alone; an opt-out restored within 30 days
// after withdrawing and consenting again brings the contents back; the death
// purge still removes everything.
func TestSCRSurvivesWithdrawal(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	w.parent(kari, small)
	w.putSCR(kari, 2)
	w.putSCR(small, 3)
	if r := w.call("settings", "settings/scr-access.json", kari, `{"enabled":false}`, nil); r.Status != 200 {
		t.Fatalf("remove SCR access: %s", r.Raw)
	}
	if r := w.call("consent", "consent/withdraw.json", kari, "", nil); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Raw)
	}
	if n := count(w.sortKeys(kari), "SCR#"); n != 2 {
		t.Errorf("after a portal withdrawal: %d SCR entries, want 2", n)
	}
	w.consent(kari, "full")
	if got := w.rule(kari, "summary_care_record", ""); got != "summary_care_record_unavailable" {
		t.Errorf("the SCR access setting did not survive the withdrawal: %s", got)
	}
	w.call("settings", "settings/scr-access.json", kari, `{"enabled":true}`, nil)

	// Opt out, withdraw on paper, consent again, restore on day 29.
	if r := w.call("settings", "settings/scr-opt-out.json", kari, "", nil); r.Status != 200 {
		t.Fatalf("opt out: %s", r.Raw)
	}
	if st, reason := w.form("withdraw_consent_adult", kari, kari); st != "applied" {
		t.Fatalf("withdrawal form: %s %s", st, reason)
	}
	if n := count(w.sortKeys(kari), "SCR#"); n != 2 {
		t.Errorf("after a paper withdrawal: %d SCR entries, want 2", n)
	}
	w.clock.Advance(29 * 24 * time.Hour)
	w.consent(kari, "full")
	if r := w.call("settings", "settings/scr-restore.json", kari, "", nil); r.Status != 200 || r.Body["summaryCareRecord"].(map[string]any)["generation"] != 0.0 {
		t.Fatalf("restore within the window: %d %s", r.Status, r.Raw)
	}
	w.clock.Advance(2 * 24 * time.Hour)
	if _, err := w.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.drain("PurgeQueue", "purge")
	if n := count(w.sortKeys(kari), "SCR#g0#"); n != 2 {
		t.Errorf("contents after restoring within the window: %d, want 2", n)
	}
	if got := w.rule(kari, "summary_care_record", ""); got != "allowed" {
		t.Errorf("after the restore: %s", got)
	}

	// The child's withdrawal form.
	if st, reason := w.form("withdraw_consent_child", small, kari); st != "applied" {
		t.Fatalf("child withdrawal form: %s %s", st, reason)
	}
	if n := count(w.sortKeys(small), "SCR#"); n != 3 {
		t.Errorf("after the child's withdrawal form: %d SCR entries, want 3", n)
	}

	// The death purge takes everything.
	w.death(kari)
	w.clock.Advance(31 * 24 * time.Hour)
	if _, err := w.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.drain("PurgeQueue", "purge")
	sks := w.sortKeys(kari)
	if count(sks, "DECEASED")+count(sks, "RECEIPT#") != len(sks) || count(sks, "DECEASED") != 1 {
		t.Errorf("after the death purge: %v, want only DECEASED and receipts", sks)
	}
}
