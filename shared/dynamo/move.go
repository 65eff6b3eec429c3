package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/personkey"
)

// movePage is how many items one round of a move reads (the keys of a
// round's plain items are checked against the new key 100 at a time).
const movePage = 1000

// MovePerson implements notices.Mover: when the register changes a person's
// id (a D-number becomes a fødselsnummer), everything under the old key
// moves to the new one, a page (movePage items) at a time, until the time until (zero: no
// limit). Plain items (no twin, no deletion job) whose sort key is free
// under the new key are copied with BatchWriteItem and then deleted under
// the old key with BatchWriteItem (a crash in between leaves a copy under
// both keys; the next run finds the new one and drops the old). Every other
// item moves in its own transaction (put under the new key, delete the
// old, rewrite its twin in the other person's partition, repoint a deletion
// job). So the move is resumable at any point and repeatable: a second run
// finds nothing left to move. If the new key already holds an item with the
// same sort key (the person used the new id before the notice came), the
// newer item is kept and the old one dropped.
func (s Mover) MovePerson(ctx context.Context, from, to personkey.Key, until time.Time) (int, bool, error) {
	fromPK, toPK := PersonPK(from), PersonPK(to)
	moved := 0
	for page := 0; ; page++ {
		// At least one page a call, so every slice makes progress.
		if page > 0 && !until.IsZero() && !s.Now().Before(until) {
			return moved, false, nil
		}
		out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.Name,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: fromPK}},
			ConsistentRead:            aws.Bool(true),
			Limit:                     aws.Int32(movePage),
		})
		if err != nil {
			return moved, false, fmt.Errorf("query items to move: %w", err)
		}
		if len(out.Items) == 0 {
			return moved, true, nil
		}
		var plain, single []map[string]types.AttributeValue
		for _, it := range out.Items {
			sk := str(it["sk"])
			if str(it["mirrorPk"]) != "" || sk == skDeceased || sk == skSettings {
				single = append(single, it)
			} else {
				plain = append(plain, it)
			}
		}
		taken, err := s.existing(ctx, toPK, plain)
		if err != nil {
			return moved, false, err
		}
		var puts []types.WriteRequest
		var olds []map[string]types.AttributeValue
		for _, it := range plain {
			if taken[str(it["sk"])] {
				single = append(single, it) // the rules for a taken key are in moveItem
				continue
			}
			m := rekey(it, from, to)
			m["pk"], m["sk"] = &types.AttributeValueMemberS{Value: toPK}, it["sk"]
			puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: m}})
			olds = append(olds, itemKey(fromPK, str(it["sk"])))
		}
		if err := s.writeAll(ctx, puts); err != nil {
			return moved, false, fmt.Errorf("copy items: %w", err)
		}
		if err := s.deleteKeys(ctx, olds); err != nil {
			return moved, false, fmt.Errorf("delete moved items: %w", err)
		}
		moved += len(puts)
		for _, it := range single {
			if err := s.moveItem(ctx, it, from, to); err != nil {
				return moved, false, err
			}
			moved++
		}
	}
}

// existing returns which of items' sort keys the partition pk already holds
// (BatchGetItem, keys only, 100 a call).
func (s Mover) existing(ctx context.Context, pk string, items []map[string]types.AttributeValue) (map[string]bool, error) {
	taken := map[string]bool{}
	if len(items) == 0 {
		return taken, nil
	}
	for len(items) > 0 {
		n := min(100, len(items)) // BatchGetItem's limit
		keys := make([]map[string]types.AttributeValue, 0, n)
		for _, it := range items[:n] {
			keys = append(keys, itemKey(pk, str(it["sk"])))
		}
		items = items[n:]
		req := map[string]types.KeysAndAttributes{s.Name: {Keys: keys, ProjectionExpression: aws.String("sk"), ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == maxBatchAttempts {
				return nil, fmt.Errorf("read target keys: still unprocessed after %d attempts", attempt)
			}
			out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read target keys: %w", err)
			}
			for _, it := range out.Responses[s.Name] {
				taken[str(it["sk"])] = true
			}
			req = out.UnprocessedKeys
		}
	}
	return taken, nil
}

func (s Mover) moveItem(ctx context.Context, it map[string]types.AttributeValue, from, to personkey.Key) error {
	oldKey := itemKey(str(it["pk"]), str(it["sk"]))
	moved := rekey(it, from, to)
	moved["pk"] = &types.AttributeValueMemberS{Value: PersonPK(to)}
	moved["sk"] = it["sk"]
	actions := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.Name, Item: moved, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Delete: &types.Delete{TableName: &s.Name, Key: oldKey}},
	}
	twin, err := s.twinActions(ctx, it, from, to)
	if err != nil {
		return err
	}
	actions = append(actions, twin...)
	// Items that name a deletion job: the death marker, and the settings
	// while a summary care record opt-out waits for its purge.
	job := str(it["jobId"])
	if str(it["sk"]) == skSettings {
		job = str(it["scrPurgeJob"])
	}
	if (str(it["sk"]) == skDeceased || str(it["sk"]) == skSettings) && job != "" {
		actions = append(actions, types.TransactWriteItem{Update: &types.Update{
			TableName: &s.Name, Key: itemKey(jobPK(job), skJob),
			UpdateExpression:          aws.String("SET personKey = :k"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: string(to)}},
		}})
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions})
	if err == nil {
		return nil
	}
	if failed := cancelledConditions(err); len(failed) > 0 && failed[0] {
		// The new key already has this item: keep it, drop the old one (and
		// the old twin, which points at the old key).
		drop := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.Name, Key: oldKey}}}
		if len(twin) > 0 && twin[0].Delete != nil {
			drop = append(drop, twin[0])
		}
		if _, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: drop}); err != nil {
			return fmt.Errorf("drop superseded item: %w", err)
		}
		return nil
	}
	return fmt.Errorf("move item: %w", err)
}

// twinActions rewrites an item's twin so that it points at the new key: the
// twin is deleted and put again with every mention of the old key (in its
// sort key, its mirror and its attributes) replaced.
func (s Mover) twinActions(ctx context.Context, it map[string]types.AttributeValue, from, to personkey.Key) ([]types.TransactWriteItem, error) {
	mpk, msk := str(it["mirrorPk"]), str(it["mirrorSk"])
	if mpk == "" || msk == "" {
		return nil, nil
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(mpk, msk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get twin: %w", err)
	}
	if out.Item == nil {
		return nil, nil
	}
	newTwin := rekey(out.Item, from, to)
	actions := []types.TransactWriteItem{}
	if str(newTwin["sk"]) != msk {
		actions = append(actions, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.Name, Key: itemKey(mpk, msk)}})
	}
	actions = append(actions, types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: newTwin}})
	return actions, nil
}

// rekey copies an item, replacing the old person key (and partition key)
// wherever it appears in a string attribute.
func rekey(it map[string]types.AttributeValue, from, to personkey.Key) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(it))
	for k, v := range it {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, string(from)) {
			v = &types.AttributeValueMemberS{Value: strings.ReplaceAll(sv.Value, string(from), string(to))}
		}
		out[k] = v
	}
	return out
}
