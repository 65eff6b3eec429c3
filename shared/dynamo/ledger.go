package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/notices"
)

const skNotice = "NOTICE"

func noticePK(id string) string { return "NOTICE#" + id }

// Processed implements notices.Ledger.
func (s NoticeLedger) Processed(ctx context.Context, noticeID string) (bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Name, Key: itemKey(noticePK(noticeID), skNotice), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("pk"),
	})
	if err != nil {
		return false, fmt.Errorf("get processed notice: %w", err)
	}
	return out.Item != nil, nil
}

// Record implements notices.Ledger; the entry expires after notices.LedgerTTL.
func (s NoticeLedger) Record(ctx context.Context, noticeID string, t notices.Type, o notices.Outcome, at time.Time) error {
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Name, Item: map[string]types.AttributeValue{
		"pk":        &types.AttributeValueMemberS{Value: noticePK(noticeID)},
		"sk":        &types.AttributeValueMemberS{Value: skNotice},
		"type":      &types.AttributeValueMemberS{Value: string(t)},
		"outcome":   &types.AttributeValueMemberS{Value: string(o)},
		"at":        &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(notices.LedgerTTL).Unix(), 10)},
	}})
	if err != nil {
		return fmt.Errorf("record notice: %w", err)
	}
	return nil
}
