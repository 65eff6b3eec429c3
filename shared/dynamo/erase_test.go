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
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
)

// crashAfter lets n write calls (BatchWriteItem or UpdateItem) through and
// fails every one after that, like a function killed half-way.
type crashAfter struct {
	dynamo.DB
	mu sync.Mutex
	n  int
}

var errCrash = errors.New("injected crash")

func (c *crashAfter) allow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	return c.n >= 0
}

func (c *crashAfter) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if !c.allow() {
		return nil, errCrash
	}
	return c.DB.BatchWriteItem(ctx, in, o...)
}

func (c *crashAfter) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if !c.allow() {
		return nil, errCrash
	}
	return c.DB.UpdateItem(ctx, in, o...)
}

type eraseFixture struct {
	table string
	db    *dynamodb.Client
	now   func() time.Time
}

// person seeds a partition with kept records, data of three kinds and a
// power of attorney whose twin lives in another partition, plus a receipt.
func (f eraseFixture) person(t *testing.T, key personkey.Key, usage int) (receiptID string) {
	t.Helper()
	pk := dynamo.PersonPK(key)
	store := dynamo.NewStores(f.db, f.table, f.now).Consent
	now := f.now()
	r := consent.Receipt{ID: "r-" + string(key), Reason: consent.ReasonWithdrawal, Status: consent.ReceiptDeleting, StartedAt: now}
	st := consent.State{Status: consent.StatusWithdrawn, Version: 1, UpdatedAt: now, Channel: consent.ChannelPortal, WithdrawalID: r.ID}
	if err := store.Apply(context.Background(), key, st, 0, consent.Event{ID: "e1", At: now, Action: consent.ActionWithdraw, Channel: consent.ChannelPortal, Version: 1}, &r); err != nil {
		t.Fatal(err)
	}
	var reqs []types.WriteRequest
	put := func(pk, sk string, extra ...string) {
		item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
		for i := 0; i+1 < len(extra); i += 2 {
			item[extra[i]] = &types.AttributeValueMemberS{Value: extra[i+1]}
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for i := range usage {
		put(pk, fmt.Sprintf("USAGE#%05d", i))
	}
	put(pk, "NOK#1")
	put(pk, "OPTOUT#scr#1")
	put(pk, "PROFILE#employer")
	put(pk, "ZZZ#last-kind")
	other := dynamo.PersonPK(key + "-grantor")
	put(pk, "POA#RECEIVED#g1", "mirrorPk", other, "mirrorSk", "POA#GIVEN#g1")
	put(other, "POA#GIVEN#g1", "mirrorPk", pk, "mirrorSk", "POA#RECEIVED#g1")
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		if _, err := f.db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{f.table: reqs[:n]}}); err != nil {
			t.Fatal(err)
		}
		reqs = reqs[n:]
	}
	return r.ID
}

func (f eraseFixture) sortKeys(t *testing.T, pk string) []string {
	t.Helper()
	out, err := f.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &f.table, KeyConditionExpression: aws.String("pk = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

const wantCounts = "map[nok:1 poa:1 profile:1 usage:60 zzz:1]"

// TestEraseResumesExactlyAfterACrashAnywhere crashes the erase after every
// possible number of writes, across several pages, then finishes it with a
// healthy store: the receipt's counts must be exact every time.
func TestEraseResumesExactlyAfterACrashAnywhere(t *testing.T) {
	local := testenv.New(t)
	f := eraseFixture{table: local.Table("PrivacyTable"), db: local.DynamoDB, now: time.Now}
	// 60 usage + 5 other data items + 3 kept, pages of 20: 4 pages, about 8 writes.
	for crashAt := 0; crashAt <= 12; crashAt++ {
		t.Run(fmt.Sprintf("crash after %d writes", crashAt), func(t *testing.T) {
			key := personkey.Key(fmt.Sprintf("crash%02d", crashAt))
			id := f.person(t, key, 60)
			crashing := dynamo.Eraser{Table: dynamo.NewTable(&crashAfter{DB: f.db, n: crashAt}, f.table, f.now)}
			crashing.PageLimit = 20
			_, firstErr := crashing.Erase(context.Background(), key, id, consent.ScopeWithdrawal, consent.Slice{})

			healthy := dynamo.Eraser{Table: dynamo.NewTable(f.db, f.table, f.now)}
			healthy.PageLimit = 20
			r, err := healthy.Erase(context.Background(), key, id, consent.ScopeWithdrawal, consent.Slice{})
			if err != nil {
				t.Fatalf("resume: %v (first run: %v)", err, firstErr)
			}
			if got := fmt.Sprint(r.Deleted); got != wantCounts || r.Status != consent.ReceiptDone {
				t.Errorf("receipt: got %s %s, want %s done", got, r.Status, wantCounts)
			}
			left := f.sortKeys(t, dynamo.PersonPK(key))
			if len(left) != 4 || left[0] != "CONSENT" || left[2] != "OPTOUT#scr#1" || left[3] != "RECEIPT#"+id {
				t.Errorf("left in partition: %v, want CONSENT, CONSENTLOG#…, OPTOUT#scr#1, RECEIPT#%s", left, id)
			}
			if twin := f.sortKeys(t, dynamo.PersonPK(key+"-grantor")); len(twin) != 0 {
				t.Errorf("twin left: %v", twin)
			}
		})
	}
}

func TestConcurrentErasesCountOnce(t *testing.T) {
	local := testenv.New(t)
	f := eraseFixture{table: local.Table("PrivacyTable"), db: local.DynamoDB, now: time.Now}
	key := personkey.Key("concurrent")
	id := f.person(t, key, 60)
	var wg sync.WaitGroup
	results := make([]consent.Receipt, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Go(func() {
			s := dynamo.Eraser{Table: dynamo.NewTable(f.db, f.table, f.now)}
			s.PageLimit = 10
			results[i], errs[i] = s.Erase(context.Background(), key, id, consent.ScopeWithdrawal, consent.Slice{})
		})
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("erase %d: %v", i, errs[i])
		}
		if got := fmt.Sprint(results[i].Deleted); got != wantCounts {
			t.Errorf("erase %d: counts %s, want %s", i, got, wantCounts)
		}
	}
}

func TestEraseEverythingKeepsOnlyReceipts(t *testing.T) {
	local := testenv.New(t)
	f := eraseFixture{table: local.Table("PrivacyTable"), db: local.DynamoDB, now: time.Now}
	key := personkey.Key("dead")
	id := f.person(t, key, 5)
	r, err := dynamo.NewStores(f.db, f.table, f.now).Eraser.Erase(context.Background(), key, id, consent.ScopeEverything, consent.Slice{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(r.Deleted), "map[consent:1 consentlog:1 nok:1 optout:1 poa:1 profile:1 usage:5 zzz:1]"; got != want {
		t.Errorf("counts: got %s, want %s", got, want)
	}
	if left := f.sortKeys(t, dynamo.PersonPK(key)); fmt.Sprint(left) != "[RECEIPT#"+id+"]" {
		t.Errorf("left: %v, want only the receipt", left)
	}
}

// slowProgress makes every UpdateItem (one progress write a page) take
// 300 ms of the test's clock.
type slowProgress struct {
	dynamo.DB
	mu      sync.Mutex
	now     time.Time
	updates int
}

func (s *slowProgress) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s.mu.Lock()
	s.now = s.now.Add(300 * time.Millisecond)
	s.updates++
	s.mu.Unlock()
	return s.DB.UpdateItem(ctx, in, o...)
}

func (s *slowProgress) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// TestEraseStopsBeforeAPageWouldOverrunItsBudget: pages that take 300 ms
// against a 1 s budget: the erase stops after the third page (at 900 ms a
// fourth would end at 1.2 s), not after the first page that ends past the
// budget; with the budget already spent it still erases one page.
func TestEraseStopsBeforeAPageWouldOverrunItsBudget(t *testing.T) {
	local := testenv.New(t)
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		budget    time.Duration
		wantPages int
	}{
		{"1 s", time.Second, 3},
		{"spent", 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := &slowProgress{DB: local.DynamoDB, now: start}
			f := eraseFixture{table: local.Table("PrivacyTable"), db: local.DynamoDB, now: db.Now}
			key := personkey.Key("budget-" + c.name)
			id := f.person(t, key, 100)
			s := dynamo.Eraser{Table: dynamo.NewTable(db, f.table, db.Now)}
			s.PageLimit = 10
			r, err := s.Erase(context.Background(), key, id, consent.ScopeWithdrawal, consent.Slice{Until: start.Add(c.budget)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != consent.ReceiptDeleting || db.updates != c.wantPages {
				t.Errorf("status %s after %d pages; want deleting after %d", r.Status, db.updates, c.wantPages)
			}
		})
	}
}
