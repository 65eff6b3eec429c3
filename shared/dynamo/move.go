package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// movePage is how many items one round of a move reads (the keys of a
// round's plain items are checked against the new key 100 at a time).
const movePage = 1000

// MovePerson implements notices.Mover: when the register changes a person's
// id (a D-number becomes a fødselsnummer), everything under the old key
// moves to the new one, a page (movePage items) at a time, until the time
// until (zero: no limit). Plain items (no twin, not a singleton) whose sort
// key is free under the new key are copied with BatchWriteItem and then
// deleted under the old key with BatchWriteItem (a crash in between leaves
// a copy under both keys; the next run finds the new one and merges the
// identical old one away). Every other item moves in its own transaction
// (put under the new key, delete the old, rewrite its twin in the other
// person's partition, repoint a deletion job). So the move is resumable at
// any point and repeatable: a second run finds nothing left to move.
//
// If the new key already holds an item with the same sort key (the person
// used the new id before the notice came, or an earlier change moved data
// there), the two merge by the rules of package idchange (see mergeItems);
// nothing is dropped without a rule, and Merged counts every such item.
func (s Mover) MovePerson(ctx context.Context, from, to personkey.Key, until time.Time) (notices.MoveResult, error) {
	fromPK, toPK := PersonPK(from), PersonPK(to)
	var r notices.MoveResult
	for page := 0; ; page++ {
		// At least one page a call, so every slice makes progress.
		if page > 0 && !until.IsZero() && !s.Now().Before(until) {
			return r, nil
		}
		out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &s.Name,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: fromPK}},
			ConsistentRead:            aws.Bool(true),
			Limit:                     aws.Int32(movePage),
		})
		if err != nil {
			return r, fmt.Errorf("query items to move: %w", err)
		}
		if len(out.Items) == 0 {
			r.Done = true
			return r, nil
		}
		held, err := s.held(ctx, toPK, out.Items)
		if err != nil {
			return r, err
		}
		var puts []types.WriteRequest
		var olds []map[string]types.AttributeValue
		var single []map[string]types.AttributeValue
		for _, it := range out.Items {
			sk := str(it["sk"])
			if existing, ok := held[sk]; ok {
				if err := s.merge(ctx, it, existing, from, to); err != nil {
					return r, err
				}
				r.Moved++
				r.Merged++
				continue
			}
			if str(it["mirrorPk"]) != "" || singleton(sk) {
				single = append(single, it)
				continue
			}
			m := rekey(it, from, to)
			m["pk"], m["sk"] = &types.AttributeValueMemberS{Value: toPK}, it["sk"]
			puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: m}})
			olds = append(olds, itemKey(fromPK, sk))
		}
		if err := s.writeAll(ctx, puts); err != nil {
			return r, fmt.Errorf("copy items: %w", err)
		}
		if err := s.deleteKeys(ctx, olds); err != nil {
			return r, fmt.Errorf("delete moved items: %w", err)
		}
		r.Moved += len(puts)
		for _, it := range single {
			merged, err := s.moveItem(ctx, it, from, to)
			if err != nil {
				return r, err
			}
			r.Moved++
			if merged {
				r.Merged++
			}
		}
	}
}

// held returns the items the partition pk already holds under the sort keys
// of items (BatchGetItem, 100 keys a call).
func (s Mover) held(ctx context.Context, pk string, items []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	held := map[string]map[string]types.AttributeValue{}
	for len(items) > 0 {
		n := min(100, len(items)) // BatchGetItem's limit
		keys := make([]map[string]types.AttributeValue, 0, n)
		for _, it := range items[:n] {
			keys = append(keys, itemKey(pk, str(it["sk"])))
		}
		items = items[n:]
		req := map[string]types.KeysAndAttributes{s.Name: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt == maxBatchAttempts {
				return nil, fmt.Errorf("read target items: still unprocessed after %d attempts", attempt)
			}
			out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read target items: %w", err)
			}
			for _, it := range out.Responses[s.Name] {
				held[str(it["sk"])] = it
			}
			req = out.UnprocessedKeys
		}
	}
	return held, nil
}

// moveItem moves one item with a twin or a deletion job in one
// transaction. If the new key took the sort key meanwhile, the two merge.
func (s Mover) moveItem(ctx context.Context, it map[string]types.AttributeValue, from, to personkey.Key) (merged bool, err error) {
	oldKey := itemKey(str(it["pk"]), str(it["sk"]))
	if str(it["mirrorPk"]) == PersonPK(to) {
		// A grant or relation between the old and the new id: one person
		// on both sides is no relation at all. Both sides go.
		return true, s.transact(ctx, "drop a relation to oneself", []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: &s.Name, Key: oldKey}},
			{Delete: &types.Delete{TableName: &s.Name, Key: itemKey(str(it["mirrorPk"]), str(it["mirrorSk"]))}},
		})
	}
	moved := rekey(it, from, to)
	moved["pk"] = &types.AttributeValueMemberS{Value: PersonPK(to)}
	moved["sk"] = it["sk"]
	actions := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.Name, Item: moved, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Delete: &types.Delete{TableName: &s.Name, Key: oldKey}},
	}
	rest, err := s.followers(ctx, it, from, to)
	if err != nil {
		return false, err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(actions, rest...)})
	if err == nil {
		return false, nil
	}
	if failed := cancelledConditions(err); len(failed) > 0 && failed[0] {
		out, gerr := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(PersonPK(to), str(it["sk"])), ConsistentRead: aws.Bool(true)})
		if gerr != nil {
			return false, fmt.Errorf("read the new key's item: %w", gerr)
		}
		if out.Item == nil {
			return false, fmt.Errorf("move item: %w", err) // gone again: the redelivery moves it
		}
		return true, s.merge(ctx, it, out.Item, from, to)
	}
	return false, fmt.Errorf("move item: %w", err)
}

// followers are the writes that go with moving it: its twin rewritten to
// point at the new key, and the deletion job it names repointed.
func (s Mover) followers(ctx context.Context, it map[string]types.AttributeValue, from, to personkey.Key) ([]types.TransactWriteItem, error) {
	actions, err := s.twinActions(ctx, it, from, to)
	if err != nil {
		return nil, err
	}
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
	return actions, nil
}

// merge moves it onto existing, the item the new key already holds under
// the same sort key, by mergeItems' rule, in one transaction: the winner
// (or the merged item) is written under the new key if the new key's item
// is still as read, and the old item goes. When the moved item wins, its
// twin and job follow it; when it loses, its twin (which points at the old
// key) goes with it.
func (s Mover) merge(ctx context.Context, it, existing map[string]types.AttributeValue, from, to personkey.Key) error {
	oldKey := itemKey(str(it["pk"]), str(it["sk"]))
	moved := rekey(it, from, to)
	moved["pk"], moved["sk"] = existing["pk"], existing["sk"]
	write, movedWins, err := mergeItems(moved, existing)
	if err != nil {
		return err
	}
	actions := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.Name, Key: oldKey}}}
	cond, names, vals := unchanged(existing)
	if write != nil {
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: write,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
	} else {
		// The new key's item is kept: it must still be there, as read,
		// or the moved one would go for nothing.
		actions = append(actions, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &s.Name,
			Key: itemKey(str(existing["pk"]), str(existing["sk"])), ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
	}
	if movedWins {
		rest, err := s.followers(ctx, it, from, to)
		if err != nil {
			return err
		}
		actions = append(actions, rest...)
	} else if mpk, msk := str(it["mirrorPk"]), str(it["mirrorSk"]); mpk != "" && msk != "" {
		actions = append(actions, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.Name, Key: itemKey(mpk, msk)}})
	}
	return s.transact(ctx, "merge onto the new key's item", actions)
}

func (s Mover) transact(ctx context.Context, what string, actions []types.TransactWriteItem) error {
	if _, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// unchanged is the condition that an item is still as read: at the same
// version, or with the same change time, where it has them.
func unchanged(it map[string]types.AttributeValue) (*string, map[string]string, map[string]types.AttributeValue) {
	cond, names, vals := "attribute_exists(pk)", map[string]string{}, map[string]types.AttributeValue{}
	for _, a := range []string{"version", "updatedAt", "since"} {
		switch v := it[a].(type) {
		case *types.AttributeValueMemberS, *types.AttributeValueMemberN:
			cond += fmt.Sprintf(" AND #%s = :%s", a, a)
			names["#"+a], vals[":"+a] = a, v
		}
	}
	if len(names) == 0 {
		return aws.String(cond), nil, nil
	}
	return aws.String(cond), names, vals
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

// singleton reports whether sk is one of a person's one-of-a-kind items
// (consent, settings, next of kin, ...) or names a deletion job: these move
// in their own conditional transaction, so that one the person writes under
// the new id meanwhile is merged, never overwritten by a blind copy.
func singleton(sk string) bool {
	switch sk {
	case skConsent, skSettings, skSector, skDeceased, skProfileKin, skProfileChannel, skProfileEmployer, skProfileNeeds:
		return true
	}
	return false
}
