package emulator_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/emulator"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
)

func TestEmulatorRunsPatchedMoto(t *testing.T) {
	if !emulator.Shared(t).Patched {
		t.Fatal("moto runs unpatched: every transaction costs the whole table (see motoLauncher); " +
			"is MOTO_PLAIN set, or did the launcher print a warning?")
	}
}

type item = map[string]types.AttributeValue

func key(pk, sk string) item { return item{"pk": str(pk), "sk": str(sk)} }

// TestFailedTransactionLeavesEveryItemAsItWas runs transactions whose
// earlier actions write (put over an item, put a new one, update an item,
// update a missing one into being, delete an item, and all of it in a
// partition that did not exist) and whose last action fails in each way
// moto can fail one. Afterwards every item, the partitions and the ByDue
// index read exactly as before; the successful twin of each transaction
// proves the earlier actions do write.
func TestFailedTransactionLeavesEveryItemAsItWas(t *testing.T) {
	l := testenv.New(t)
	table := aws.String(l.Table("PrivacyTable"))
	ctx := context.Background()
	seedItems := []item{
		{"pk": str("P#a"), "sk": str("PUT-OVER"), "v": str("old"), "gone": str("kept")},
		{"pk": str("P#a"), "sk": str("UPDATE"), "n": num("1"), "tags": &types.AttributeValueMemberSS{Value: []string{"x"}},
			"dueBucket": str("B"), "dueAt": str("2026-01-01")},
		{"pk": str("P#a"), "sk": str("DELETE"), "v": str("doomed"), "dueBucket": str("B"), "dueAt": str("2026-01-02")},
		{"pk": str("P#a"), "sk": str("BYSTANDER"), "v": str("still")},
		{"pk": str("P#a"), "sk": str("CHECKED"), "v": str("no")},
	}
	for _, it := range seedItems {
		if _, err := l.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	writes := []types.TransactWriteItem{
		{Put: &types.Put{TableName: table, Item: item{"pk": str("P#a"), "sk": str("PUT-OVER"), "v": str("new")}}},
		{Put: &types.Put{TableName: table, Item: item{"pk": str("P#a"), "sk": str("PUT-NEW"), "dueBucket": str("B"), "dueAt": str("2026-01-03")}}},
		{Put: &types.Put{TableName: table, Item: item{"pk": str("P#fresh"), "sk": str("ONE"), "v": str("1")}}},
		{Update: &types.Update{TableName: table, Key: key("P#a", "UPDATE"),
			UpdateExpression:          aws.String("SET n = n + :one, dueAt = :later ADD tags :y REMOVE dueBucket"),
			ExpressionAttributeValues: item{":one": num("1"), ":later": str("2027-01-01"), ":y": &types.AttributeValueMemberSS{Value: []string{"y"}}}}},
		{Update: &types.Update{TableName: table, Key: key("P#fresh2", "CREATED"),
			UpdateExpression: aws.String("SET v = :v"), ExpressionAttributeValues: item{":v": str("made")}}},
		{Delete: &types.Delete{TableName: table, Key: key("P#a", "DELETE")}},
	}
	cases := []struct {
		name string
		last *types.TransactWriteItem // nil: the transaction succeeds
	}{
		{"condition check fails", &types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: table, Key: key("P#a", "CHECKED"),
			ConditionExpression: aws.String("v = :yes"), ExpressionAttributeValues: item{":yes": str("yes")}}}},
		{"conditional put fails", &types.TransactWriteItem{Put: &types.Put{TableName: table, Item: key("P#a", "BYSTANDER"),
			ConditionExpression: aws.String("attribute_not_exists(pk)")}}},
		{"item named twice", &types.TransactWriteItem{Delete: &types.Delete{TableName: table, Key: key("P#a", "PUT-OVER")}}},
		{"invalid update", &types.TransactWriteItem{Update: &types.Update{TableName: table, Key: key("P#a", "CHECKED"),
			UpdateExpression: aws.String("SET v = :missing")}}},
		{"key of the wrong type", &types.TransactWriteItem{Put: &types.Put{TableName: table, Item: item{"pk": num("7"), "sk": str("X")}}}},
	}
	before := snapshotTable(t, l)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := l.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
				TransactItems: append(slices.Clone(writes), *c.last)})
			if err == nil {
				t.Fatal("transaction succeeded; want it to fail on its last action")
			}
			if got := snapshotTable(t, l); !reflect.DeepEqual(got, before) {
				t.Errorf("after a failed transaction (%v):\ngot  %v\nwant %v", err, got, before)
			}
		})
	}
	t.Run("the same writes succeed", func(t *testing.T) {
		if _, err := l.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes}); err != nil {
			t.Fatal(err)
		}
		after := snapshotTable(t, l)
		want := map[string]string{
			"P#a/PUT-OVER":     `map[pk:P#a sk:PUT-OVER v:new]`,
			"P#a/PUT-NEW":      `map[dueAt:2026-01-03 dueBucket:B pk:P#a sk:PUT-NEW]`,
			"P#fresh/ONE":      `map[pk:P#fresh sk:ONE v:1]`,
			"P#fresh2/CREATED": `map[pk:P#fresh2 sk:CREATED v:made]`,
			"P#a/UPDATE":       `map[dueAt:2027-01-01 n:2 pk:P#a sk:UPDATE tags:[x y]]`,
			"P#a/DELETE":       `<absent>`,
		}
		for k, w := range want {
			if got := after.items[k]; got != w {
				t.Errorf("%s = %s, want %s", k, got, w)
			}
		}
	})
}

// tableState is what a reader can see of the test's items: each item's
// attributes, each partition's sort keys in order, and the ByDue index.
type tableState struct {
	items      map[string]string
	partitions map[string][]string
	byDue      []string
}

func snapshotTable(t *testing.T, l *stack.Local) tableState {
	t.Helper()
	ctx := context.Background()
	table := aws.String(l.Table("PrivacyTable"))
	s := tableState{items: map[string]string{}, partitions: map[string][]string{}}
	for _, pk := range []string{"P#a", "P#fresh", "P#fresh2"} {
		s.partitions[pk] = testenv.SortKeys(t, l, pk)
		for _, sk := range []string{"PUT-OVER", "PUT-NEW", "UPDATE", "DELETE", "BYSTANDER", "CHECKED", "ONE", "CREATED", "X"} {
			out, err := l.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if out.Item == nil {
				if pk == "P#a" || sk == "ONE" || sk == "CREATED" {
					s.items[pk+"/"+sk] = "<absent>"
				}
				continue
			}
			s.items[pk+"/"+sk] = plain(out.Item)
		}
	}
	out, err := l.DynamoDB.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("ByDue"),
		KeyConditionExpression: aws.String("dueBucket = :b"), ExpressionAttributeValues: item{":b": str("B")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		s.byDue = append(s.byDue, plain(it))
	}
	return s
}

// plain prints an item's attributes in key order.
func plain(it item) string {
	m := map[string]any{}
	for k, v := range it {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			m[k] = v.Value
		case *types.AttributeValueMemberN:
			m[k] = v.Value
		case *types.AttributeValueMemberSS:
			ss := slices.Clone(v.Value)
			slices.Sort(ss)
			m[k] = ss
		default:
			m[k] = fmt.Sprintf("%T", v)
		}
	}
	return fmt.Sprint(m)
}

func num(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }

// TestTransactionCostDoesNotGrowWithTheTable times a transaction of three
// small puts (the shape of a consent change) on a table of 1,000 items and
// again once it holds 10,000. DynamoDB charges a transaction for what it
// touches; plain moto copies the whole table first (about 2 s more at
// 10,000 items on this machine), so this fails without motoLauncher.
func TestTransactionCostDoesNotGrowWithTheTable(t *testing.T) {
	l := testenv.New(t)
	small := txnCost(t, l, 1_000)
	large := txnCost(t, l, 10_000)
	t.Logf("3-put transaction: %v at 1,000 items, %v at 10,000", small, large)
	if large > 3*small+100*time.Millisecond {
		t.Errorf("a 3-put transaction took %v on 10,000 items and %v on 1,000: its cost grows with the table", large, small)
	}
}

// txnCost fills l's table up to n items and returns the median time of
// five 3-put transactions on it.
func txnCost(t *testing.T, l *stack.Local, n int) time.Duration {
	t.Helper()
	have := len(testenv.SortKeys(t, l, "P#bulk"))
	var items []map[string]any
	for i := have; i < n; i++ {
		items = append(items, map[string]any{"pk": "P#bulk", "sk": fmt.Sprintf("USAGE#%06d", i), "service": "messages"})
	}
	testenv.BatchPut(t, l, items)
	table := aws.String(l.Table("PrivacyTable"))
	var times []time.Duration
	for round := range 5 {
		var writes []types.TransactWriteItem
		for j := range 3 {
			writes = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: table,
				Item: key(fmt.Sprintf("P#txn-%d-%d", n, round), fmt.Sprint(j))}})
		}
		start := time.Now()
		if _, err := l.DynamoDB.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: writes}); err != nil {
			t.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2]
}
