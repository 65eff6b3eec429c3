package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/consent"
	"privacycore/shared/personkey"
)

// batchSize is the most deletes one BatchWriteItem call takes.
const batchSize = 25

// maxBatchAttempts bounds the retries of unprocessed items in one batch.
const maxBatchAttempts = 8

// Erase implements consent.Eraser. It runs in two resumable phases recorded
// on the receipt: counting (one keys-only pass over the partition, so the
// receipt's counts are exact whatever happens later) and deleting (a second
// pass with batched deletes). A crash in either phase is finished by calling
// Erase again; the conditional phase changes make concurrent calls safe.
func (s *Store) Erase(ctx context.Context, key personkey.Key, receiptID string, scope consent.Scope) (consent.Receipt, error) {
	pk := PersonPK(key)
	r, err := s.Receipt(ctx, key, receiptID)
	if err != nil {
		return consent.Receipt{}, err
	}
	if r.Status == consent.ReceiptCounting {
		counts := map[string]int{}
		err := s.eachPage(ctx, pk, func(keys []erasable) error {
			for _, k := range keys {
				if !keeps(k.SK, scope) {
					counts[kindOf(k.SK)]++
				}
			}
			return nil
		})
		if err != nil {
			return consent.Receipt{}, fmt.Errorf("count items to erase: %w", err)
		}
		if err := s.advance(ctx, pk, receiptID, consent.ReceiptCounting, consent.ReceiptDeleting, counts); err != nil {
			return consent.Receipt{}, err
		}
	}
	if r.Status != consent.ReceiptDone {
		err := s.eachPage(ctx, pk, func(keys []erasable) error {
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
			return s.deleteKeys(ctx, del)
		})
		if err != nil {
			return consent.Receipt{}, fmt.Errorf("erase items: %w", err)
		}
		if err := s.advance(ctx, pk, receiptID, consent.ReceiptDeleting, consent.ReceiptDone, nil); err != nil {
			return consent.Receipt{}, err
		}
	}
	return s.Receipt(ctx, key, receiptID)
}

// erasable is the projection Erase reads: the key and a twin's key.
type erasable struct {
	PK       string `dynamodbav:"pk"`
	SK       string `dynamodbav:"sk"`
	MirrorPK string `dynamodbav:"mirrorPk"`
	MirrorSK string `dynamodbav:"mirrorSk"`
}

// eachPage queries the whole partition, keys only, one page at a time.
func (s *Store) eachPage(ctx context.Context, pk string, fn func([]erasable) error) error {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:                 &s.Table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ProjectionExpression:      aws.String("pk, sk, mirrorPk, mirrorSk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
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

// advance moves a receipt from one phase to the next. If another caller
// already moved it, that is success: the work is the same.
func (s *Store) advance(ctx context.Context, pk, receiptID string, from, to consent.ReceiptStatus, counts map[string]int) error {
	set := "#s = :to"
	vals := map[string]types.AttributeValue{
		":from": &types.AttributeValueMemberS{Value: string(from)},
		":to":   &types.AttributeValueMemberS{Value: string(to)},
	}
	if counts != nil {
		m, err := attributevalue.Marshal(counts)
		if err != nil {
			return fmt.Errorf("encode counts: %w", err)
		}
		set += ", deleted = :c"
		vals[":c"] = m
	}
	if to == consent.ReceiptDone {
		set += ", completedAt = :t"
		vals[":t"] = &types.AttributeValueMemberS{Value: s.Now().UTC().Format(timeLayout)}
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       itemKey(pk, skReceipt+receiptID),
		UpdateExpression:          aws.String("SET " + set),
		ConditionExpression:       aws.String("#s = :from"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals,
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("advance receipt to %s: %w", to, err)
	}
	return nil
}

// deleteKeys deletes keys in batches of 25, retrying unprocessed items with
// exponential backoff, as DynamoDB asks.
func (s *Store) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
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

func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{s.Table: reqs}
	backoff := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		if len(out.UnprocessedItems) == 0 || len(out.UnprocessedItems[s.Table]) == 0 {
			return nil
		}
		if attempt == maxBatchAttempts {
			return fmt.Errorf("batch write: %d items still unprocessed after %d attempts", len(out.UnprocessedItems[s.Table]), attempt)
		}
		pending = out.UnprocessedItems
		if err := s.Sleep(ctx, backoff); err != nil {
			return fmt.Errorf("batch write backoff: %w", err)
		}
		backoff = min(2*backoff, time.Second)
	}
}
