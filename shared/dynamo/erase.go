package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// batchSize is the most deletes one BatchWriteItem call takes.
const batchSize = 25

// maxBatchAttempts bounds the retries of unprocessed items in one batch.
const maxBatchAttempts = 8

// Erase implements consent.Eraser in one pass over the partition, keys only,
// page by page. Before a page's items are deleted, their counts are added to
// the receipt together with the page's last sort key (countedThrough), in
// one conditional update. Pages come in sort-key order, so after a crash at
// any point a new call knows exactly which surviving items were counted
// already (sort key <= countedThrough) and the receipt's counts stay exact.
// The condition on countedThrough makes concurrent calls safe: a caller that
// loses re-reads the receipt and counts only what the winner did not.
func (s Eraser) Erase(ctx context.Context, key personkey.Key, receiptID string, scope consent.Scope) (consent.Receipt, error) {
	pk := PersonPK(key)
	r, err := s.receipt(ctx, pk, receiptID)
	if err != nil {
		return consent.Receipt{}, err
	}
	if r.Status != string(consent.ReceiptDone) {
		err := s.eachPage(ctx, pk, func(keys []erasable) error {
			if err := s.countPage(ctx, pk, &r, keys, scope); err != nil {
				return err
			}
			return s.deleteKeys(ctx, deletable(keys, scope))
		})
		if err != nil {
			return consent.Receipt{}, fmt.Errorf("erase items: %w", err)
		}
		if err := s.finishReceipt(ctx, pk, receiptID); err != nil {
			return consent.Receipt{}, err
		}
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

// deletable returns the keys to delete from a page, twins included.
func deletable(keys []erasable, scope consent.Scope) []map[string]types.AttributeValue {
	var del []map[string]types.AttributeValue
	for _, k := range keys {
		if keeps(k.SK, scope) {
			continue
		}
		del = append(del, itemKey(k.PK, k.SK))
		if k.MirrorPK != "" && k.MirrorSK != "" {
			del = append(del, itemKey(k.MirrorPK, k.MirrorSK))
		}
	}
	return del
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

// eachPage queries the whole partition, keys only, one page at a time.
func (s Eraser) eachPage(ctx context.Context, pk string, fn func([]erasable) error) error {
	in := &dynamodb.QueryInput{
		TableName:                 &s.Name,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ProjectionExpression:      aws.String("pk, sk, mirrorPk, mirrorSk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	}
	if s.PageLimit > 0 {
		in.Limit = aws.Int32(s.PageLimit)
	}
	p := dynamodb.NewQueryPaginator(s.DB, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query partition: %w", err)
		}
		var keys []erasable
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &keys); err != nil {
			return fmt.Errorf("decode keys: %w", err)
		}
		if err := fn(keys); err != nil {
			return err
		}
	}
	return nil
}

// deleteKeys deletes keys in batches of 25, retrying unprocessed items with
// exponential backoff, as DynamoDB asks. (Four batches in flight at once
// measured no faster against the emulator, so it stays sequential.)
func (s *Table) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
	for len(keys) > 0 {
		n := min(batchSize, len(keys))
		reqs := make([]types.WriteRequest, 0, n)
		for _, k := range keys[:n] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		keys = keys[n:]
		if err := s.batchWrite(ctx, reqs); err != nil {
			return err
		}
	}
	return nil
}

func (s *Table) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{s.Name: reqs}
	backoff := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		if len(out.UnprocessedItems) == 0 || len(out.UnprocessedItems[s.Name]) == 0 {
			return nil
		}
		if attempt == maxBatchAttempts {
			return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", len(out.UnprocessedItems[s.Name]), attempt)
		}
		pending = out.UnprocessedItems
		if err := s.Sleep(ctx, backoff); err != nil {
			return fmt.Errorf("batch write backoff: %w", err)
		}
		backoff = min(2*backoff, time.Second)
	}
}
