package dynamo_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/emulator"
	"privacycore/infra/testenv"
	"privacycore/shared/domain"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/consentapi"
	"privacycore/shared/platform/obs"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// countingDB counts the DynamoDB calls that go through it.
type countingDB struct {
	dynamo.DB
	calls atomic.Int64
}

func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.DB.GetItem(ctx, in, o...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	return c.DB.Query(ctx, in, o...)
}

func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.calls.Add(1)
	return c.DB.UpdateItem(ctx, in, o...)
}

func (c *countingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	return c.DB.TransactWriteItems(ctx, in, o...)
}

func (c *countingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.calls.Add(1)
	return c.DB.BatchWriteItem(ctx, in, o...)
}

func handlerOn(db dynamo.DB, table string) *consentapi.Handler {
	store := dynamo.NewStores(db, table, time.Now)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	svc := &consent.Service{Store: store.Consent, Eraser: store.Eraser, Grants: store.Grants, Now: time.Now, NewID: domain.NewID}
	return consentapi.New(svc, keys, obs.NewLogger(io.Discard, nil))
}

// BenchmarkConsentRead reports DynamoDB calls per GET /v1/consent (goal: 1).
func BenchmarkConsentRead(b *testing.B) {
	local := testenv.New(b)
	db := &countingDB{DB: local.DynamoDB}
	h := handlerOn(db, local.Table("PrivacyTable"))
	put := testenv.HTTPEvent(b, "consent/give.json")
	if r, _ := h.Handle(context.Background(), put); r.StatusCode != 200 {
		b.Fatalf("setup: %d %s", r.StatusCode, r.Body)
	}
	get := testenv.HTTPEvent(b, "consent/get.json")
	db.calls.Store(0)
	b.ResetTimer()
	for b.Loop() {
		if r, _ := h.Handle(context.Background(), get); r.StatusCode != 200 {
			b.Fatalf("read: %d", r.StatusCode)
		}
	}
	b.ReportMetric(float64(db.calls.Load())/float64(b.N), "ddb-calls/op")
}

// BenchmarkWithdraw10k withdraws consent for a person with 10,000 data
// items and, in the same iteration, deletes two more sets of 10,000 items
// with raw loops: BatchWriteItem over keys already known (the floor for any
// deletion), and Query-then-BatchWriteItem (the floor for a deletion that
// must first find the keys, as any withdrawal must). It reports the times
// and the ratios to both baselines.
func BenchmarkWithdraw10k(b *testing.B) {
	const n = 10_000
	local := testenv.New(b)
	table := local.Table("PrivacyTable")
	db := &countingDB{DB: local.DynamoDB}
	h := handlerOn(db, table)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	ctx := context.Background()
	var withdrawTotal, rawTotal, rawQueryTotal time.Duration
	var calls int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := nin.ForTest(nin.Date{Year: 1950 + i, Month: 1, Day: 1}, true)
		ev := testenv.HTTPEvent(b, "consent/give.json")
		ev.RequestContext.Authorizer.JWT.Claims["pid"] = id.Digits()
		if r, _ := h.Handle(ctx, ev); r.StatusCode != 200 {
			b.Fatalf("give: %d %s", r.StatusCode, r.Body)
		}
		// Each set is seeded just before its deletion, so all three run on a
		// table of the same size (the emulator's costs grow with it).
		seed(b, local.DynamoDB, table, dynamo.PersonPK(keys.Key(id)), n)

		db.calls.Store(0)
		ev.RouteKey, ev.Body = consentapi.RouteWithdraw, ""
		start := time.Now()
		b.StartTimer()
		r, _ := h.Handle(ctx, ev)
		b.StopTimer()
		withdrawTotal += time.Since(start)
		calls += db.calls.Load()
		if r.StatusCode != 200 {
			b.Fatalf("withdraw: %d %s", r.StatusCode, r.Body)
		}

		rawKeys := seed(b, local.DynamoDB, table, fmt.Sprintf("P#raw-%d", i), n)
		start = time.Now()
		rawDelete(b, local.DynamoDB, table, rawKeys)
		rawTotal += time.Since(start)

		rawQueryPK := fmt.Sprintf("P#rawq-%d", i)
		seed(b, local.DynamoDB, table, rawQueryPK, n)
		start = time.Now()
		rawDelete(b, local.DynamoDB, table, queryKeys(b, local.DynamoDB, table, rawQueryPK))
		rawQueryTotal += time.Since(start)
		b.StartTimer()
	}
	iters := float64(b.N)
	b.ReportMetric(withdrawTotal.Seconds()*1000/iters, "withdraw-ms/op")
	b.ReportMetric(rawTotal.Seconds()*1000/iters, "raw-batch-ms/op")
	b.ReportMetric(rawQueryTotal.Seconds()*1000/iters, "raw-query+batch-ms/op")
	b.ReportMetric(withdrawTotal.Seconds()/rawTotal.Seconds(), "withdraw/raw-batch")
	b.ReportMetric(withdrawTotal.Seconds()/rawQueryTotal.Seconds(), "withdraw/raw-query+batch")
	b.ReportMetric(float64(calls)/iters, "ddb-calls/op")
	// The headline (make bench collects name=value lines): the whole
	// withdrawal, erase included, against its floor, Query keys +
	// BatchWriteItem of the same items, measured in the same run.
	fmt.Printf("withdraw_10k_ratio_vs_floor=%.2f\n", withdrawTotal.Seconds()/rawQueryTotal.Seconds())
}

func seed(b *testing.B, db *dynamodb.Client, table, pk string, n int) [][]types.WriteRequest {
	b.Helper()
	var batches, deletes [][]types.WriteRequest
	var cur, del []types.WriteRequest
	for i := range n {
		key := map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk},
			"sk": &types.AttributeValueMemberS{Value: fmt.Sprintf("USAGE#2026-11-23T10:00:00Z#%06d", i)},
		}
		item := map[string]types.AttributeValue{"service": &types.AttributeValueMemberS{Value: "messages"}, "by": &types.AttributeValueMemberS{Value: "self"}}
		for k, v := range key {
			item[k] = v
		}
		cur = append(cur, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		del = append(del, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
		if len(cur) == 25 || i == n-1 {
			batches, deletes = append(batches, cur), append(deletes, del)
			cur, del = nil, nil
		}
	}
	for _, batch := range batches {
		writeAll(b, db, table, batch)
	}
	return deletes
}

// queryKeys pages through a partition, keys only, and groups the keys into
// batches of 25 deletes.
func queryKeys(b *testing.B, db *dynamodb.Client, table, pk string) [][]types.WriteRequest {
	b.Helper()
	var batches [][]types.WriteRequest
	var cur []types.WriteRequest
	p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{
		TableName: &table, KeyConditionExpression: aws.String("pk = :pk"), ProjectionExpression: aws.String("pk, sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range out.Items {
			cur = append(cur, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: it}})
			if len(cur) == 25 {
				batches, cur = append(batches, cur), nil
			}
		}
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches
}

func rawDelete(b *testing.B, db *dynamodb.Client, table string, batches [][]types.WriteRequest) {
	b.Helper()
	for _, batch := range batches {
		writeAll(b, db, table, batch)
	}
}

func writeAll(b *testing.B, db *dynamodb.Client, table string, reqs []types.WriteRequest) {
	pending := map[string][]types.WriteRequest{table: reqs}
	for len(pending[table]) > 0 {
		out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			b.Fatal(err)
		}
		pending = out.UnprocessedItems
	}
}
