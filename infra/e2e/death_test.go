package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/poa"
	"privacycore/shared/dynamo"
)

// TestDeathClosesEveryDoor: from the death notice on, the dead person acts
// for nobody (self, parent, attorney), gets and gives no power of attorney,
// changes no settings or profile for anyone, and has nobody to select.
func TestDeathClosesEveryDoor(t *testing.T) {
	w := newWorld(t, nil)
	for _, p := range []string{kari, ola, stranger} {
		w.consent(p, "full")
	}
	w.parent(kari, small)
	if r := w.call("representation", "representation/people.json", kari, "", nil); len(r.Body["people"].([]any)) != 2 {
		t.Fatalf("selector before the death: %s", r.Raw)
	}
	w.death(kari)

	// A grant beside the death (the store refuses to write one, so the
	// marker is set aside for the write): the decisions must deny it too.
	now := w.clock.Now()
	ctx, table := context.Background(), aws.String(w.local.Table("PrivacyTable"))
	markerKey := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(w.key(kari))}, "sk": &types.AttributeValueMemberS{Value: "DECEASED"}}
	marker, err := w.local.DynamoDB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: markerKey, ReturnValues: types.ReturnValueAllOld})
	if err != nil || len(marker.Attributes) == 0 {
		t.Fatalf("no death marker: %v", err)
	}
	if err := w.store.Grants.CreateGrant(ctx, poa.Grant{ID: domain.NewID(), Grantor: w.key(ola), Grantee: w.key(kari),
		Areas: access.Areas, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(24 * time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.local.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: marker.Attributes}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, subject, role string
	}{{"self", "", "self"}, {"parent", small, "parent"}, {"attorney", ola, "attorney"}} {
		t.Run("decision as "+tt.name, func(t *testing.T) {
			d := w.decide(kari, "messages", tt.subject)
			if d.Body["allowed"] != false || d.Body["rule"] != "actor_deceased" || d.Body["role"] != tt.role {
				t.Errorf("got %s, want actor_deceased as %s", d.Raw, tt.role)
			}
		})
	}

	before := fmt.Sprint(w.sortKeys(small), w.sortKeys(ola), w.sortKeys(stranger))
	refusals := []struct {
		name string
		r    func() resp
		want string
	}{
		{"a power of attorney to the dead person", func() resp {
			return w.call("representation", "representation/grant.json", stranger, `{"grantee":"`+kari+`","areas":["health_data"],"validTo":"2027-11-23T00:00:00Z"}`, nil)
		}, "grantee_deceased"},
		{"a power of attorney from the dead person", func() resp { return w.call("representation", "representation/grant.json", kari, "", nil) }, "deceased"},
		{"blocking own access", func() resp { return w.call("settings", "settings/block.json", kari, "", nil) }, "deceased"},
		{"blocking the child", func() resp {
			return w.call("settings", "settings/block-child.json", kari, `{"blocked":true,"child":"`+small+`"}`, nil)
		}, "deceased"},
		{"the child's patient record", func() resp {
			return w.call("settings", "settings/patient-record.json", kari, `{"enabled":false,"child":"`+small+`"}`, nil)
		}, "deceased"},
		{"giving consent", func() resp { return w.call("consent", "consent/give.json", kari, "", nil) }, "deceased"},
		// The death notice withdrew consent, and the profile checks consent first.
		{"the profile", func() resp { return w.call("profile", "profile/set-channel.json", kari, "", nil) }, "consent_required"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			if r := c.r(); r.Status != 403 || code(r) != c.want {
				t.Errorf("got %d %s, want 403 %s", r.Status, r.Raw, c.want)
			}
		})
	}
	if st, reason := w.form("block_child", small, kari); st != "rejected" || reason != "signer_deceased" {
		t.Errorf("a form signed by the dead parent: %s %s", st, reason)
	}
	if after := fmt.Sprint(w.sortKeys(small), w.sortKeys(ola), w.sortKeys(stranger)); after != before {
		t.Errorf("a refusal changed data:\n%s\n%s", before, after)
	}
	if r := w.call("representation", "representation/people.json", kari, "", nil); r.Status != 200 || len(r.Body["people"].([]any)) != 0 {
		t.Errorf("the dead person's selector: %s", r.Raw)
	}
}

// TestNothingChangesForADeadChild: a living parent cannot change a dead
// child's settings, in the portal or on paper.
func TestNothingChangesForADeadChild(t *testing.T) {
	w := newWorld(t, nil)
	w.consent(kari, "full")
	w.parent(kari, small)
	w.death(small)
	if r := w.call("settings", "settings/block-child.json", kari, `{"blocked":true,"child":"`+small+`"}`, nil); r.Status != 403 || code(r) != "person_deceased" {
		t.Errorf("blocking a dead child: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "settings/block-child.json", ola, `{"blocked":true,"child":"`+small+`"}`, nil); r.Status != 403 || code(r) != "not_your_child" {
		t.Errorf("a stranger must not learn of the death: %d %s", r.Status, r.Raw)
	}
	if st, reason := w.form("block_child", small, kari); st != "rejected" || reason != "subject_deceased" {
		t.Errorf("a form for the dead child: %s %s", st, reason)
	}
	if n := count(w.sortKeys(small), "OPTOUT#") + count(w.sortKeys(small), "SETTINGS"); n != 0 {
		t.Errorf("settings changed for a dead child: %v", w.sortKeys(small))
	}
}
