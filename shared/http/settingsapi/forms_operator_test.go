package settingsapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/dynamo"
)

func withSub(sub string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer.JWT.Claims["sub"] = sub }
}

// items returns the attributes of a person's items whose sort key starts with prefix.
func (w *world) items(pid, prefix string) []map[string]string {
	w.t.Helper()
	out, err := w.local.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(w.local.Table("PrivacyTable")), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(w.key(pid))}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	var res []map[string]string
	for _, it := range out.Items {
		m := map[string]string{}
		for k, v := range it {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				m[k] = s.Value
			}
		}
		res = append(res, m)
	}
	return res
}

// TestFormsAreAccountable: end to end, the operator's identity (the token's
// sub) is required, stored on the form and on the history entries the form
// caused, shown to operators in the form's status, and never shown to the
// citizen, whose history says "paper form" and the form id.
func TestFormsAreAccountable(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")

	// No identity, or one shaped like a person id: refused, nothing queued or stored.
	for _, tt := range []struct{ sub, code string }{{"", "missing_operator_identity"}, {ola, "invalid_operator_identity"}} {
		r := w.call("forms", "forms/block-adult.json", withSub(tt.sub))
		if r.Status != 401 || r.Body["code"] != tt.code {
			t.Errorf("sub %q: got %d %s, want 401 %s", tt.sub, r.Status, r.Raw, tt.code)
		}
		st := w.call("forms", "forms/status.json", func(e *events.APIGatewayV2HTTPRequest) {
			withSub(tt.sub)(e)
		})
		if st.Status != 401 || st.Body["code"] != tt.code {
			t.Errorf("status with sub %q: got %d %s, want 401 %s", tt.sub, st.Status, st.Raw, tt.code)
		}
	}
	if n := w.drain("FormsQueue", "forms"); n != 0 {
		t.Fatalf("forms without an operator were queued: %d", n)
	}

	// A block keyed in by operator-17 (the fixture's sub).
	r := w.call("forms", "forms/block-adult.json", nil)
	if r.Status != 202 || r.Body["operator"] != "operator-17" {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	// Keyed in again by another operator: the same form, its first operator kept.
	if again := w.call("forms", "forms/block-adult.json", withSub("operator-99")); again.Status != 200 || again.Body["operator"] != "operator-17" {
		t.Errorf("resubmitted by another operator: %d %s", again.Status, again.Raw)
	}
	w.drain("FormsQueue", "forms")
	st := w.call("forms", "forms/status.json", func(e *events.APIGatewayV2HTTPRequest) { e.PathParameters["formId"] = "F-2026-0001" })
	if st.Body["status"] != "applied" || st.Body["operator"] != "operator-17" {
		t.Errorf("status for operators: %s, want applied by operator-17", st.Raw)
	}
	blocks := w.items(kari, "OPTOUT#emergency_block#")
	if len(blocks) != 1 || blocks[0]["operator"] != "operator-17" || blocks[0]["formId"] != "F-2026-0001" || blocks[0]["channel"] != "paper_form" {
		t.Errorf("history entry of the block: %v, want operator-17, F-2026-0001, paper_form", blocks)
	}

	// A consent withdrawal on paper: the consent log records the operator,
	// the citizen's history shows the paper form and its id, not the operator.
	wd := w.call("forms", "forms/withdraw-consent-adult.json", withSub("operator-42"))
	if wd.Status != 202 {
		t.Fatalf("withdrawal form: %d %s", wd.Status, wd.Raw)
	}
	w.drain("FormsQueue", "forms")
	logs := w.items(kari, "CONSENTLOG#")
	found := false
	for _, l := range logs {
		if l["action"] == "withdraw" {
			found = l["operator"] == "operator-42" && l["formId"] == wd.Body["formId"]
		}
	}
	if !found {
		t.Errorf("consent log: %v, want the withdrawal with operator-42 and the form id", logs)
	}
	h := w.call("consent", "consent/history.json", as(kari))
	items, _ := h.Body["items"].([]any)
	if h.Status != 200 || len(items) == 0 {
		t.Fatalf("history: %d %s", h.Status, h.Raw)
	}
	latest := items[0].(map[string]any)
	if latest["action"] != "withdraw" || latest["channel"] != "paper_form" || latest["formId"] != wd.Body["formId"] {
		t.Errorf("citizen's history: %v, want the withdrawal on paper_form with its form id", latest)
	}
	if strings.Contains(h.Raw, "operator") {
		t.Errorf("the citizen's history names the operator: %s", h.Raw)
	}
}

// TestFormDates: end to end, a form dated before the subject's birth or
// older than FORM_MAX_AGE_DAYS (90 by default) is refused and queues nothing.
func TestFormDates(t *testing.T) {
	w := newWorld(t)
	w.consent(kari, "full")
	for _, tt := range []struct{ date, code string }{
		{"1900-01-01", "received_before_birth"}, // the issue: a form dated 1900 for someone born in 1983
		{"2026-08-24", "received_too_old"},      // 91 days before day0
		{"2026-11-24", "received_in_future"},
	} {
		r := w.call("forms", "forms/block-adult.json", body(`{"formId":"F-DATE-1","kind":"block_adult","subject":"`+kari+`","signer":"`+kari+`","receivedDate":"`+tt.date+`"}`))
		if r.Status != 400 || r.Body["code"] != tt.code {
			t.Errorf("%s: got %d %s, want 400 %s", tt.date, r.Status, r.Raw, tt.code)
		}
	}
	if n := w.drain("FormsQueue", "forms"); n != 0 {
		t.Errorf("refused forms were queued: %d", n)
	}
	if r := w.call("forms", "forms/block-adult.json", body(`{"formId":"F-DATE-2","kind":"block_adult","subject":"`+kari+`","signer":"`+kari+`","receivedDate":"2026-08-25"}`)); r.Status != 202 {
		t.Errorf("90 days before day0: got %d %s, want 202", r.Status, r.Raw)
	}
}
