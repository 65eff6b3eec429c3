package dynamo_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"privacycore/infra/testenv"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
)

// writeBudget lets n writes of any kind through, then fails every write:
// a process killed right after its n-th write.
type writeBudget struct {
	crashAfter
}

func (c *writeBudget) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if !c.allow() {
		return nil, errCrash
	}
	return c.DB.TransactWriteItems(ctx, in, o...)
}

// TestPairsSurviveACrashAtEveryWriteBoundary erases a partition of about
// 1,100 items with the production page size (dynamo.ErasePage) in which 30 items
// have a twin in another partition, placed so that the twins straddle the
// first page boundary and several batch boundaries. Every run is allowed
// exactly one more write than the progress so far, so the erase is killed
// after each of its writes in turn. After every crash no pair is split
// (both sides present, or both gone) and the receipt is not done while a
// twin remains; at the end the counts are exact.
func TestPairsSurviveACrashAtEveryWriteBoundary(t *testing.T) {
	const before, pairs, after = 985, 30, 60
	local := testenv.New(t)
	f := eraseFixture{table: local.Table("PrivacyTable"), db: local.DynamoDB, now: time.Now}
	key := personkey.Key("pairs")
	pk, other := dynamo.PersonPK(key), "P#other"
	id := f.person(t, key, 0) // consent, a receipt and a few items of its own (see person)
	baseline := f.sortKeys(t, pk)
	var items []map[string]any
	for i := range before {
		items = append(items, map[string]any{"pk": pk, "sk": fmt.Sprintf("APPT#%05d", i)})
	}
	for i := range pairs {
		g := fmt.Sprintf("POA#GIVEN#p%02d", i)
		r := fmt.Sprintf("POA#RECEIVED#p%02d", i)
		items = append(items,
			map[string]any{"pk": pk, "sk": g, "mirrorPk": other, "mirrorSk": r},
			map[string]any{"pk": other, "sk": r, "mirrorPk": pk, "mirrorSk": g})
	}
	for i := range after {
		items = append(items, map[string]any{"pk": pk, "sk": fmt.Sprintf("USAGE#%05d", i)})
	}
	testenv.BatchPut(t, local, items)
	if n := len(f.sortKeys(t, pk)); n <= dynamo.ErasePage {
		t.Fatalf("setup: %d items, want more than one production page", n)
	}

	pairState := func() (split []string, twinsLeft int) {
		mine := map[string]bool{}
		for _, sk := range f.sortKeys(t, pk) {
			mine[sk] = true
		}
		theirs := map[string]bool{}
		for _, sk := range f.sortKeys(t, other) {
			theirs[sk] = true
		}
		for i := range pairs {
			g, r := fmt.Sprintf("POA#GIVEN#p%02d", i), fmt.Sprintf("POA#RECEIVED#p%02d", i)
			if mine[g] != theirs[r] {
				split = append(split, fmt.Sprintf("p%02d (mine %v, twin %v)", i, mine[g], theirs[r]))
			}
			if theirs[r] {
				twinsLeft++
			}
		}
		return split, twinsLeft
	}

	crashes := 0
	for run := 1; ; run++ {
		if run > 500 {
			t.Fatal("the erase makes no progress")
		}
		budget := &writeBudget{crashAfter{DB: f.db, n: 1}}
		s := dynamo.Eraser{Table: dynamo.NewTable(budget, f.table, f.now)} // PageLimit 0: production pages
		r, err := s.Erase(context.Background(), key, id, consent.ScopeEverything, consent.Slice{})
		split, twinsLeft := pairState()
		if len(split) > 0 {
			t.Fatalf("after the crash at write %d: pairs split: %v", run, split)
		}
		if err == nil {
			if r.Status != consent.ReceiptDone || twinsLeft != 0 {
				t.Fatalf("finished with status %s and %d twins left", r.Status, twinsLeft)
			}
			break
		}
		if !strings.Contains(err.Error(), errCrash.Error()) {
			t.Fatalf("run %d: %v", run, err)
		}
		crashes++
		got, rerr := dynamo.ConsentStore{Table: dynamo.NewTable(f.db, f.table, f.now)}.Receipt(context.Background(), key, id)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if got.Status == consent.ReceiptDone && twinsLeft > 0 {
			t.Fatalf("after the crash at write %d: the receipt is done with %d twins left", run, twinsLeft)
		}
	}
	// One write a run: a page's count update, its pair transaction, then
	// one run per batch of 25, over two pages.
	if min := (before + after) / 25; crashes < min {
		t.Errorf("%d crashes, want at least one per batch (%d)", crashes, min)
	}
	r, err := dynamo.ConsentStore{Table: dynamo.NewTable(f.db, f.table, f.now)}.Receipt(context.Background(), key, id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"appt": before, "poa": pairs, "usage": after}
	for _, sk := range baseline {
		if k := strings.ToLower(strings.SplitN(sk, "#", 2)[0]); !strings.HasPrefix(sk, "RECEIPT#") {
			want[k]++
		}
	}
	if fmt.Sprint(r.Deleted) != fmt.Sprint(want) {
		t.Errorf("counts: got %v, want %v", r.Deleted, want)
	}
	left := f.sortKeys(t, pk)
	sort.Strings(left)
	if len(left) != 1 || !strings.HasPrefix(left[0], "RECEIPT#") {
		t.Errorf("left: %v", left)
	}
	t.Logf("%d crashes, one after every write, before the erase finished", crashes)
}
