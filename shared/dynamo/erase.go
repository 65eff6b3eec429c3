package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/smithy-go"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// batchSize is the most deletes one BatchWriteItem call takes.
const batchSize = 25

// maxBatchAttempts bounds the retries of unprocessed or throttled items in
// one batch.
const maxBatchAttempts = 10

// ErasePage is the production page size of an erase: how many keys one
// Query reads (keys only, so far below DynamoDB's 1 MB page). It bounds the
// erase's memory, whatever the partition's size.
const ErasePage = 1000

// DefaultEraseParallelism is how many BatchWriteItem calls an erase keeps in
// flight. One partition key takes about 1,000 write units a second; a batch
// of 25 small deletes is 25 units and takes ~10-25 ms, so four batches in
// flight already reach that ceiling: more only earns throttling.
const DefaultEraseParallelism = 4

// pairsPerTransaction is how many two-sided items (an item and its twin in
// another partition) one TransactWriteItems deletes (its limit is 100 actions).
const pairsPerTransaction = 50

// Erase implements consent.Eraser in one pass over the partition, keys only,
// page by page (ErasePage keys a page). Before a page's items are deleted,
// their counts are added to the receipt together with the page's last sort
// key (countedThrough), in one conditional update. Pages come in sort-key
// order, so after a crash at any point a new call knows exactly which
// surviving items were counted already (sort key <= countedThrough) and the
// receipt's counts stay exact. The condition on countedThrough makes
// concurrent calls safe: a caller that loses re-reads the receipt and counts
// only what the winner did not.
//
// Within a page, every item with a twin in another partition is deleted
// together with its twin in one transaction, before the rest of the page:
// a crash at any write boundary never leaves one side of a pair without
// the other. The rest goes in BatchWriteItem calls, Parallel in flight.
//
// The call stops at a page boundary within the slice's bound (see
// consent.Slice) and returns the receipt still deleting, with Next set to
// the last sort key whose page is fully erased; the read-ahead of the next
// page is cancelled, not waited for.
func (s Eraser) Erase(ctx context.Context, key personkey.Key, receiptID string, scope consent.Scope, slice consent.Slice) (consent.Receipt, error) {
	pk := PersonPK(key)
	r, err := s.receipt(ctx, pk, receiptID)
	if err != nil {
		return consent.Receipt{}, err
	}
	if r.Status == string(consent.ReceiptDone) {
		return fromReceiptItem(r), nil
	}
	pages, next := 0, slice.After
	stopped := false
	pageStart := s.Now()
	err = s.eachPage(ctx, pk, slice.After, func(keys []erasable) (bool, error) {
		if err := s.countPage(ctx, pk, &r, keys, scope); err != nil {
			return false, err
		}
		pairs, rest := deletable(keys, scope)
		if err := s.deletePairs(ctx, pairs); err != nil {
			return false, err
		}
		if err := s.deleteKeys(ctx, rest); err != nil {
			return false, err
		}
		pages, next = pages+1, keys[len(keys)-1].SK
		// Another page would take about as long as this one (its Query
		// included): start it only if it should end before Until, so a
		// request's budget is not overrun by a page.
		now := s.Now()
		took := now.Sub(pageStart)
		pageStart = now
		if (slice.Pages > 0 && pages >= slice.Pages) || (!slice.Until.IsZero() && !now.Add(took).Before(slice.Until)) {
			stopped = true
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return consent.Receipt{}, fmt.Errorf("erase items: %w", err)
	}
	if stopped {
		// There may be nothing left after this page; the next slice finds
		// out with one Query and finishes the receipt.
		out := fromReceiptItem(r)
		out.Status, out.Next = consent.ReceiptDeleting, next
		return out, nil
	}
	if err := s.finishReceipt(ctx, pk, receiptID); err != nil {
		return consent.Receipt{}, err
	}
	return ConsentStore(s).Receipt(ctx, key, receiptID)
}

// countPage adds the page's not yet counted items to the receipt r (which it
// keeps current), retrying on a concurrent update.
func (s Eraser) countPage(ctx context.Context, pk string, r *receiptItem, keys []erasable, scope consent.Scope) error {
	for {
		counts := maps.Clone(r.Deleted)
		if counts == nil {
			counts = map[string]int{}
		}
		fresh := false
		for _, k := range keys {
			if !keeps(k.SK, scope) && k.SK > r.CountedThrough {
				counts[kindOf(k.SK)]++
				fresh = true
			}
		}
		if !fresh {
			return nil
		}
		last := keys[len(keys)-1].SK
		err := s.recordProgress(ctx, pk, r.ID, r.CountedThrough, last, counts)
		if err == nil {
			r.Deleted, r.CountedThrough = counts, last
			return nil
		}
		if !errors.Is(err, errErasedConcurrently) {
			return err
		}
		if *r, err = s.receipt(ctx, pk, r.ID); err != nil {
			return err
		}
	}
}

// deletable splits a page's items to delete into pairs (an item and its
// twin in another partition: both go in one transaction) and the rest.
func deletable(keys []erasable, scope consent.Scope) (pairs [][2]map[string]types.AttributeValue, rest []map[string]types.AttributeValue) {
	for _, k := range keys {
		if keeps(k.SK, scope) {
			continue
		}
		if k.MirrorPK != "" && k.MirrorSK != "" {
			pairs = append(pairs, [2]map[string]types.AttributeValue{itemKey(k.PK, k.SK), itemKey(k.MirrorPK, k.MirrorSK)})
			continue
		}
		rest = append(rest, itemKey(k.PK, k.SK))
	}
	return pairs, rest
}

// deletePairs deletes each pair in the same transaction as its twin (up to
// pairsPerTransaction pairs a call). A twin already gone is no failure.
func (s *Table) deletePairs(ctx context.Context, pairs [][2]map[string]types.AttributeValue) error {
	for len(pairs) > 0 {
		n := min(pairsPerTransaction, len(pairs))
		actions := make([]types.TransactWriteItem, 0, 2*n)
		for _, p := range pairs[:n] {
			actions = append(actions,
				types.TransactWriteItem{Delete: &types.Delete{TableName: &s.Name, Key: p[0]}},
				types.TransactWriteItem{Delete: &types.Delete{TableName: &s.Name, Key: p[1]}})
		}
		if err := s.retryThrottled(ctx, func() error {
			_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions})
			return err
		}); err != nil {
			return fmt.Errorf("delete pairs: %w", err)
		}
		pairs = pairs[n:]
	}
	return nil
}

var errErasedConcurrently = errors.New("another erase of the same receipt moved on")

// recordProgress stores the counts so far and the last counted sort key,
// if nobody else has moved the receipt on since through was read.
func (s Eraser) recordProgress(ctx context.Context, pk, receiptID, through, last string, counts map[string]int) error {
	m, err := attributevalue.Marshal(counts)
	if err != nil {
		return fmt.Errorf("encode counts: %w", err)
	}
	cond := "countedThrough = :through"
	vals := map[string]types.AttributeValue{
		":c":    m,
		":last": &types.AttributeValueMemberS{Value: last},
	}
	if through == "" {
		cond = "attribute_not_exists(countedThrough)"
	} else {
		vals[":through"] = &types.AttributeValueMemberS{Value: through}
	}
	_, err = s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Name,
		Key:                       itemKey(pk, skReceipt+receiptID),
		UpdateExpression:          aws.String("SET deleted = :c, countedThrough = :last"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: vals,
	})
	if isConditionFailed(err) {
		return errErasedConcurrently
	}
	if err != nil {
		return fmt.Errorf("record erase progress: %w", err)
	}
	return nil
}

func (s Eraser) finishReceipt(ctx context.Context, pk, receiptID string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.Name,
		Key:                      itemKey(pk, skReceipt+receiptID),
		UpdateExpression:         aws.String("SET #s = :done, completedAt = :t"),
		ConditionExpression:      aws.String("#s <> :done"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": &types.AttributeValueMemberS{Value: string(consent.ReceiptDone)},
			":t":    &types.AttributeValueMemberS{Value: s.Now().UTC().Format(timeLayout)},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("finish receipt: %w", err)
	}
	return nil
}

// erasable is the projection Erase reads: the key and a twin's key.
type erasable struct {
	PK       string `dynamodbav:"pk"`
	SK       string `dynamodbav:"sk"`
	MirrorPK string `dynamodbav:"mirrorPk"`
	MirrorSK string `dynamodbav:"mirrorSk"`
	Ended    bool   `dynamodbav:"ended"` // a relation's tombstone (see endRelation)
}

// eachPage queries the partition after the sort key after ("" from the
// start), keys only, one page at a time, until fn returns false. The next
// page is read while fn works on the current one. The partition key is not
// read back (every item has pk): a page's answer is the sort keys and the
// twins' keys only.
func (s Eraser) eachPage(ctx context.Context, pk, after string, fn func([]erasable) (bool, error)) error {
	limit := s.PageLimit
	if limit <= 0 {
		limit = ErasePage
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.Name,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ProjectionExpression:      aws.String("sk, mirrorPk, mirrorSk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(limit),
	}
	if after != "" {
		in.ExclusiveStartKey = itemKey(pk, after)
	}
	// The read-ahead is cancelled when fn stops: a request with a budget
	// does not wait for a page it will not erase.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type page struct {
		keys []erasable
		last map[string]types.AttributeValue
		err  error
	}
	fetch := func(start map[string]types.AttributeValue) <-chan page {
		ch := make(chan page, 1)
		go func() {
			q := *in
			q.ExclusiveStartKey = start
			out, err := s.DB.Query(ctx, &q)
			if err != nil {
				ch <- page{err: fmt.Errorf("query partition: %w", err)}
				return
			}
			var keys []erasable
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &keys); err != nil {
				ch <- page{err: fmt.Errorf("decode keys: %w", err)}
				return
			}
			for i := range keys {
				keys[i].PK = pk
			}
			ch <- page{keys: keys, last: out.LastEvaluatedKey}
		}()
		return ch
	}
	pending := fetch(in.ExclusiveStartKey)
	for pending != nil {
		p := <-pending
		if p.err != nil {
			return p.err
		}
		pending = nil
		if len(p.last) > 0 {
			pending = fetch(p.last) // read ahead; dropped if fn stops
		}
		if len(p.keys) == 0 {
			continue
		}
		more, err := fn(p.keys)
		if err != nil || !more {
			if pending != nil {
				cancel()
				<-pending // the read-ahead has returned before we do
			}
			return err
		}
	}
	return nil
}

// deleteKeys deletes keys in batches of 25, Parallel batches in flight,
// each retried on unprocessed items and throttling with exponential
// backoff, as DynamoDB asks.
func (s *Table) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	return s.writeAll(ctx, reqs)
}

// writeAll sends write requests in batches of 25, Parallel in flight.
func (s *Table) writeAll(ctx context.Context, reqs []types.WriteRequest) error {
	var batches [][]types.WriteRequest
	for len(reqs) > 0 {
		n := min(batchSize, len(reqs))
		batches = append(batches, reqs[:n:n])
		reqs = reqs[n:]
	}
	par := s.Parallel
	if par <= 0 {
		par = DefaultEraseParallelism
	}
	if par == 1 || len(batches) == 1 {
		for _, b := range batches {
			if err := s.batchWrite(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan []types.WriteRequest)
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for range min(par, len(batches)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := s.batchWrite(ctx, b); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

func (s *Table) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{s.Name: reqs}
	backoff := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		switch {
		case err != nil && !throttled(err):
			return fmt.Errorf("batch write: %w", err)
		case err == nil && len(out.UnprocessedItems[s.Name]) == 0:
			return nil
		case err == nil:
			pending = out.UnprocessedItems
		}
		if attempt == maxBatchAttempts {
			if err != nil {
				return fmt.Errorf("batch write: throttled %d times: %w", attempt, err)
			}
			return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", len(pending[s.Name]), attempt)
		}
		if err := s.Sleep(ctx, jitter(backoff)); err != nil {
			return fmt.Errorf("batch write backoff: %w", err)
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// retryThrottled calls fn again, with exponential backoff, while DynamoDB
// answers that it is throttling.
func (s *Table) retryThrottled(ctx context.Context, fn func() error) error {
	backoff := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !throttled(err) || attempt == maxBatchAttempts {
			return err
		}
		if err := s.Sleep(ctx, jitter(backoff)); err != nil {
			return err
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// throttled reports whether DynamoDB refused a request for throughput
// (after the SDK's own retries), so it is worth sending again later.
func throttled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if c := aws.ToString(r.Code); c == "ThrottlingError" || c == "ProvisionedThroughputExceeded" {
				return true
			}
		}
	}
	return false
}

// jitter spreads retries of parallel callers: a duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
