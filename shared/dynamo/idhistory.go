package dynamo

import (
	"context"
	"errors"
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
	return idchange.Change{To: personkey.Key(str(out.Item["to"])), At: at, NoticeID: str(out.Item["noticeId"])}, true, nil
}

// Record implements idchange.History with one conditional PutItem: a
// first record, or the same change again.
func (s IDHistoryStore) Record(ctx context.Context, from personkey.Key, c idchange.Change) error {
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.Name,
		Item: map[string]types.AttributeValue{
			"pk":        &types.AttributeValueMemberS{Value: idChangePrefix + string(from)},
			"sk":        &types.AttributeValueMemberS{Value: skIDChange},
			"to":        &types.AttributeValueMemberS{Value: string(c.To)},
			"at":        &types.AttributeValueMemberS{Value: c.At.UTC().Format(timeLayout)},
			"noticeId":  &types.AttributeValueMemberS{Value: c.NoticeID},
			"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(s.Now().Add(notices.LedgerTTL).Unix(), 10)},
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #to = :to"),
		ExpressionAttributeNames:  map[string]string{"#to": "to"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":to": &types.AttributeValueMemberS{Value: string(c.To)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return idchange.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("record id change: %w", err)
	}
	return nil
}
