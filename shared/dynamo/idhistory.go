package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/idchange"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// The id history: one item per retired person key, IDCHANGE#<old key> /
// TO, naming the new key, the notice's event time and its id. It lives
// outside the person's partition, so a move leaves the old partition empty
// and an erase of the new one does not touch it. It holds keys (HMACs),
// never ids, and expires with the notice ledger (notices.LedgerTTL after
// the change): past that, no delayed notice about the old id can arrive.
const (
	idChangePrefix = "IDCHANGE#"
	skIDChange     = "TO"
	skIDChangeIn   = "IN" // the set of retired keys whose move into this key is unfinished
)

// IDHistoryStore implements idchange.History.
type IDHistoryStore struct{ *Table }

// ChangedTo implements idchange.History with one strongly consistent GetItem.
func (s IDHistoryStore) ChangedTo(ctx context.Context, key personkey.Key) (idchange.Change, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Name, Key: itemKey(idChangePrefix+string(key), skIDChange), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return idchange.Change{}, false, fmt.Errorf("get id change: %w", err)
	}
	if out.Item == nil {
		return idchange.Change{}, false, nil
	}
	at, _ := time.Parse(timeLayout, str(out.Item["at"]))
	moved, _ := out.Item["moved"].(*types.AttributeValueMemberBOOL)
	return idchange.Change{To: personkey.Key(str(out.Item["to"])), At: at, NoticeID: str(out.Item["noticeId"]), Moved: moved != nil && moved.Value}, true, nil
}

// Record implements idchange.History with one transaction: the change
// (a first record), a check that target is not retired, and from added to
// target's set of unfinished moves in (IDCHANGE#<target>/IN).
func (s IDHistoryStore) Record(ctx context.Context, from, target personkey.Key, c idchange.Change) error {
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: &s.Name,
			Item: map[string]types.AttributeValue{
				"pk":        &types.AttributeValueMemberS{Value: idChangePrefix + string(from)},
				"sk":        &types.AttributeValueMemberS{Value: skIDChange},
				"to":        &types.AttributeValueMemberS{Value: string(c.To)},
				"target":    &types.AttributeValueMemberS{Value: string(target)},
				"at":        &types.AttributeValueMemberS{Value: c.At.UTC().Format(timeLayout)},
				"noticeId":  &types.AttributeValueMemberS{Value: c.NoticeID},
				"expiresAt": s.historyExpiry(),
			},
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: &s.Name, Key: itemKey(idChangePrefix+string(target), skIDChange),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{Update: &types.Update{
			TableName: &s.Name, Key: itemKey(idChangePrefix+string(target), skIDChangeIn),
			UpdateExpression:          aws.String("ADD #from :from SET expiresAt = :exp"),
			ExpressionAttributeNames:  map[string]string{"#from": "from"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":from": &types.AttributeValueMemberSS{Value: []string{string(from)}}, ":exp": s.historyExpiry()},
		}},
	}})
	failed := cancelledConditions(err)
	switch {
	case len(failed) > 1 && failed[1]:
		return idchange.ErrRetiredMeanwhile
	case len(failed) > 0 && failed[0]:
		prior, _, gerr := s.ChangedTo(ctx, from)
		if gerr != nil {
			return gerr
		}
		if prior.To == c.To {
			return nil
		}
		return idchange.ErrConflict
	case err != nil:
		return fmt.Errorf("record id change: %w", err)
	}
	return nil
}

// MarkMoved implements idchange.History: the change is marked moved and
// from leaves its target's set of unfinished moves in, in one transaction
// (after one GetItem for the target the change recorded).
func (s IDHistoryStore) MarkMoved(ctx context.Context, from personkey.Key) error {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Name, Key: itemKey(idChangePrefix+string(from), skIDChange), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("get id change: %w", err)
	}
	target := str(out.Item["target"])
	if target == "" {
		return fmt.Errorf("mark id change moved: no change recorded")
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &s.Name, Key: itemKey(idChangePrefix+string(from), skIDChange),
			UpdateExpression:          aws.String("SET moved = :t"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
		}},
		{Update: &types.Update{
			TableName: &s.Name, Key: itemKey(idChangePrefix+target, skIDChangeIn),
			UpdateExpression:          aws.String("DELETE #from :from"),
			ExpressionAttributeNames:  map[string]string{"#from": "from"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":from": &types.AttributeValueMemberSS{Value: []string{string(from)}}},
		}},
	}})
	if err != nil {
		return fmt.Errorf("mark id change moved: %w", err)
	}
	return nil
}

// MovingIn implements idchange.History with one strongly consistent GetItem.
func (s IDHistoryStore) MovingIn(ctx context.Context, key personkey.Key) (bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Name, Key: itemKey(idChangePrefix+string(key), skIDChangeIn), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, fmt.Errorf("get moves in: %w", err)
	}
	return movingIn(out.Item), nil
}

func movingIn(it map[string]types.AttributeValue) bool {
	ss, ok := it["from"].(*types.AttributeValueMemberSS)
	return ok && len(ss.Value) > 0
}

// settledConditions are the checks that key is neither retired nor
// receiving a move: a write about the person (a death) made on them cannot
// land beside a move.
func settledConditions(table string, key personkey.Key) []types.TransactWriteItem {
	return []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName: &table, Key: itemKey(idChangePrefix+string(key), skIDChange),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: &table, Key: itemKey(idChangePrefix+string(key), skIDChangeIn),
			ConditionExpression:      aws.String("attribute_not_exists(#from)"),
			ExpressionAttributeNames: map[string]string{"#from": "from"},
		}},
	}
}

func (s IDHistoryStore) historyExpiry() types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(s.Now().Add(notices.LedgerTTL).Unix(), 10)}
}
