package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
	"privacycore/shared/dynamo"
)

var profileNow = time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)

func profileStore(t *testing.T) (*dynamo.Stores, *dynamodb.Client, string) {
	t.Helper()
	local := testenv.New(t)
	table := local.Table("PrivacyTable")
	return dynamo.NewStores(local.DynamoDB, table, func() time.Time { return profileNow }), local.DynamoDB, table
}

func kinOf(version int64, names ...string) profile.Kin {
	k := profile.Kin{Version: version, UpdatedAt: profileNow}
	for i, n := range names {
		k.Items = append(k.Items, profile.NextOfKin{ID: fmt.Sprintf("%032x", i+1), Name: n, Phone: "+4791234567", Relation: profile.RelationSibling, AddedAt: profileNow})
	}
	if len(k.Items) > 0 {
		k.Closest = k.Items[0].ID
	}
	return k
}

// TestSaveNextOfKinIsConditional races writers that read the same version:
// exactly one may win each round, and the losers write nothing.
func TestSaveNextOfKinIsConditional(t *testing.T) {
	s, _, _ := profileStore(t)
	ctx := context.Background()
	key := personkey.Key("kin")
	for round, expect := range []int64{0, 1, 2} {
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.Profile.SaveNextOfKin(ctx, key, kinOf(expect+1, fmt.Sprint("writer", i)), expect) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, profile.ErrVersionConflict):
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d (expect %d): %d writers won, want exactly 1", round, expect, won)
		}
	}
	got, err := s.Profile.NextOfKin(ctx, key)
	if err != nil || got.Version != 3 || len(got.Items) != 1 || got.Closest != got.Items[0].ID {
		t.Fatalf("after three rounds: got %+v %v, want version 3 with one closest", got, err)
	}
	if err := s.Profile.SaveNextOfKin(ctx, key, kinOf(2), 1); !errors.Is(err, profile.ErrVersionConflict) {
		t.Errorf("stale version: got %v, want ErrVersionConflict", err)
	}
	// Removing everyone keeps the item, so the version goes on counting.
	if err := s.Profile.SaveNextOfKin(ctx, key, kinOf(4), 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Profile.SaveNextOfKin(ctx, key, kinOf(1, "again"), 0); !errors.Is(err, profile.ErrVersionConflict) {
		t.Errorf("writing version 1 over an emptied list: got %v, want ErrVersionConflict", err)
	}
	if got, _ := s.Profile.NextOfKin(ctx, key); got.Version != 4 || len(got.Items) != 0 || got.Closest != "" {
		t.Errorf("emptied: got %+v, want version 4, no items", got)
	}
}

func TestProfileRoundTrip(t *testing.T) {
	s, db, table := profileStore(t)
	ctx := context.Background()
	key := personkey.Key("round-trip")
	exp := profileNow.Add(12 * time.Hour)
	steps := []error{
		s.Profile.SetNotificationChannel(ctx, key, profile.ChannelEmail, profileNow),
		s.Profile.SaveNextOfKin(ctx, key, kinOf(1, "Ola", "Kari"), 0),
		s.Profile.SetEmployer(ctx, key, profile.Employer{Name: "Helse Bergen HF", OrganisationNumber: "983974724", UpdatedAt: profileNow}),
		s.Profile.SetCommunicationNeeds(ctx, key, profile.CommunicationNeeds{Text: "Snakk tydelig", InterpreterLanguage: "uk", SignLanguage: true, UpdatedAt: profileNow}),
		s.Logins.AddLogin(ctx, key, profile.Login{ID: fmt.Sprintf("%032x", 7), Client: "Firefox", Method: profile.MethodBankID, CreatedAt: profileNow, ExpiresAt: exp}),
	}
	created, err := s.Apps.PutAppPermission(ctx, key, profile.AppPermission{ID: fmt.Sprintf("%032x", 9), ClientID: "no.example.app", Name: "App", Scopes: []string{"a", "b"}, GrantedAt: profileNow})
	steps = append(steps, err)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if !created {
		t.Error("first PutAppPermission: created false")
	}
	snap, err := s.Profile.Profile(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s|%s|%d|%s %s|%s %s %v|%d %s %v|%d %v",
		snap.Channel, closestName(snap.Kin), snap.Kin.Version, snap.Employer.Name, snap.Employer.OrganisationNumber,
		snap.CommunicationNeeds.Text, snap.CommunicationNeeds.InterpreterLanguage, snap.CommunicationNeeds.SignLanguage,
		len(snap.Logins), snap.Logins[0].Client, snap.Logins[0].ExpiresAt.Equal(exp), len(snap.AppPermissions), snap.AppPermissions[0].Scopes)
	if want := "email|Ola|1|Helse Bergen HF 983974724|Snakk tydelig uk true|1 Firefox true|1 [a b]"; got != want {
		t.Errorf("profile:\n got %s\nwant %s", got, want)
	}
	// The login's expiry is the table's TTL attribute, so it must be a number.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(key)}, "sk": &types.AttributeValueMemberS{Value: "PROFILE#LOGIN#" + fmt.Sprintf("%032x", 7)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := out.Item["expiresAt"].(*types.AttributeValueMemberN); !ok || n.Value != fmt.Sprint(exp.Unix()) {
		t.Errorf("expiresAt: got %#v, want N %d", out.Item["expiresAt"], exp.Unix())
	}
	if created, err := s.Apps.PutAppPermission(ctx, key, profile.AppPermission{ID: fmt.Sprintf("%032x", 9), ClientID: "no.example.app", Name: "App", Scopes: []string{"a"}}); err != nil || created {
		t.Errorf("second PutAppPermission: created %v %v, want a replacement", created, err)
	}
	for _, del := range []struct {
		name string
		fn   func(id string) error
	}{
		{"login", func(id string) error { return s.Logins.DeleteLogin(ctx, key, id) }},
		{"app permission", func(id string) error { return s.Apps.DeleteAppPermission(ctx, key, id) }},
	} {
		if err := del.fn(fmt.Sprintf("%032x", 8)); !errors.Is(err, profile.ErrNotFound) {
			t.Errorf("delete a missing %s: got %v, want ErrNotFound", del.name, err)
		}
	}
	if err := s.Logins.DeleteLogin(ctx, key, fmt.Sprintf("%032x", 7)); err != nil {
		t.Errorf("delete login: %v", err)
	}
	if err := s.Profile.DeleteEmployer(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Profile.DeleteEmployer(ctx, key); err != nil {
		t.Errorf("deleting a missing employer: %v, want no error", err)
	}
	if snap, _ := s.Profile.Profile(ctx, key); snap.Employer != nil || len(snap.Logins) != 0 {
		t.Errorf("after deletes: employer %v, logins %v", snap.Employer, snap.Logins)
	}
}

func closestName(k profile.Kin) string {
	if n, ok := k.Find(k.Closest); ok {
		return n.Name
	}
	return ""
}

// TestParentChannels checks that only parents with parental responsibility
// registered on both sides count, and that their channel is all that is read.
func TestParentChannels(t *testing.T) {
	s, db, table := profileStore(t)
	ctx := context.Background()
	child := personkey.Key("child")
	birth := nin.Date{Year: 2012, Month: time.May, Day: 5}
	mother, father, foster, stranger, parentNoChannel := personkey.Key("mother"), personkey.Key("father"), personkey.Key("foster"), personkey.Key("stranger"), personkey.Key("quiet")
	for _, p := range []personkey.Key{mother, father, parentNoChannel} {
		if err := s.Relations.SetParent(ctx, p, child, birth, profileNow); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Relations.SetFoster(ctx, foster, child, birth, profileNow); err != nil {
		t.Fatal(err)
	}
	if err := s.Profile.SetNotificationChannel(ctx, mother, profile.ChannelEmail, profileNow); err != nil {
		t.Fatal(err)
	}
	for _, p := range []personkey.Key{father, foster, stranger} {
		if err := s.Profile.SetNotificationChannel(ctx, p, profile.ChannelSMS, profileNow); err != nil {
			t.Fatal(err)
		}
	}
	// A one-sided link (only in the child's partition) proves nothing.
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(child)}, "sk": &types.AttributeValueMemberS{Value: "PARENT#" + string(stranger)},
	}}); err != nil {
		t.Fatal(err)
	}
	chs, err := s.Profile.ParentChannels(ctx, child)
	if err != nil {
		t.Fatal(err)
	}
	got := map[profile.Channel]int{}
	for _, c := range chs {
		got[c]++
	}
	if want := map[profile.Channel]int{profile.ChannelEmail: 1, profile.ChannelSMS: 1, "": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v (mother, father, a parent without a setting; no foster parent, no one-sided link)", got, want)
	}
	if chs, err := s.Profile.ParentChannels(ctx, mother); err != nil || len(chs) != 0 {
		t.Errorf("an adult without parents: got %v %v", chs, err)
	}
}
