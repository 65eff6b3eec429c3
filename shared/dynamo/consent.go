package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// timeLayout sorts lexically in time order (fixed width, UTC).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

type consentItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	Status        string `dynamodbav:"status"`
	Level         string `dynamodbav:"level,omitempty"`
	PatientTravel bool   `dynamodbav:"patientTravel"`
	Version       int64  `dynamodbav:"version"`
	UpdatedAt     string `dynamodbav:"updatedAt"`
	Channel       string `dynamodbav:"channel"`
	WithdrawalID  string `dynamodbav:"withdrawalId,omitempty"`
}

type eventItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	ID            string `dynamodbav:"id"`
	At            string `dynamodbav:"at"`
	Action        string `dynamodbav:"action"`
	Level         string `dynamodbav:"level,omitempty"`
	PatientTravel bool   `dynamodbav:"patientTravel"`
	Channel       string `dynamodbav:"channel"`
	Version       int64  `dynamodbav:"version"`
	FormID        string `dynamodbav:"formId,omitempty"`
	Operator      string `dynamodbav:"operator,omitempty"`
}

type receiptItem struct {
	PK          string         `dynamodbav:"pk"`
	SK          string         `dynamodbav:"sk"`
	ID          string         `dynamodbav:"id"`
	Reason      string         `dynamodbav:"reason"`
	Status      string         `dynamodbav:"status"`
	StartedAt   string         `dynamodbav:"startedAt"`
	CompletedAt string         `dynamodbav:"completedAt,omitempty"`
	Deleted     map[string]int `dynamodbav:"deleted"`
	// CountedThrough is the last sort key whose item is in Deleted; see Erase.
	CountedThrough string `dynamodbav:"countedThrough,omitempty"`
}

// Consent implements consent.Store with a single strongly consistent GetItem.
func (s ConsentStore) Consent(ctx context.Context, key personkey.Key) (consent.State, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.Name,
		Key:            itemKey(PersonPK(key), skConsent),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return consent.State{}, fmt.Errorf("get consent item: %w", err)
	}
	return decodeConsent(out.Item)
}

// Apply implements consent.Store with one TransactWriteItems call.
func (s ConsentStore) Apply(ctx context.Context, key personkey.Key, next consent.State, expect int64, ev consent.Event, r *consent.Receipt) error {
	pk := PersonPK(key)
	items, err := consentPuts(s.Name, pk, next, expect, ev)
	if err != nil {
		return err
	}
	if r != nil {
		rec, err := attributevalue.MarshalMap(toReceiptItem(pk, *r))
		if err != nil {
			return fmt.Errorf("encode receipt: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: rec, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return consent.ErrVersionConflict
	}
	if err != nil {
		return fmt.Errorf("write consent transaction: %w", err)
	}
	return nil
}

// History implements consent.Store with one Query, newest first.
func (s ConsentStore) History(ctx context.Context, key personkey.Key, limit int, cursor string) ([]consent.Event, string, error) {
	page, next, err := s.newestFirst(ctx, PersonPK(key), skConsentLog, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("query consent history: %w", err)
	}
	var items []eventItem
	if err := attributevalue.UnmarshalListOfMaps(page, &items); err != nil {
		return nil, "", fmt.Errorf("decode consent history: %w", err)
	}
	evs := make([]consent.Event, 0, len(items))
	for _, it := range items {
		at, _ := time.Parse(timeLayout, it.At)
		evs = append(evs, consent.Event{
			ID: it.ID, At: at, Action: consent.Action(it.Action), Level: consent.Level(it.Level),
			PatientTravel: it.PatientTravel, Channel: consent.Channel(it.Channel), Version: it.Version,
			FormID: it.FormID, Operator: it.Operator,
		})
	}
	return evs, next, nil
}

// Receipt implements consent.Store.
func (s ConsentStore) Receipt(ctx context.Context, key personkey.Key, id string) (consent.Receipt, error) {
	it, err := s.receipt(ctx, PersonPK(key), id)
	if err != nil {
		return consent.Receipt{}, err
	}
	return fromReceiptItem(it), nil
}

func (s *Table) receipt(ctx context.Context, pk, id string) (receiptItem, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.Name,
		Key:            itemKey(pk, skReceipt+id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return receiptItem{}, fmt.Errorf("get receipt: %w", err)
	}
	if out.Item == nil {
		return receiptItem{}, consent.ErrReceiptNotFound
	}
	var it receiptItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return receiptItem{}, fmt.Errorf("decode receipt: %w", err)
	}
	return it, nil
}

// GivenBy implements consent.Grants: the powers of attorney a person has
// given, from their side of each grant.
func (s GrantStore) GivenBy(ctx context.Context, key personkey.Key) ([]consent.Grant, error) {
	type grantItem struct {
		ID        string   `dynamodbav:"grantId"`
		Areas     []string `dynamodbav:"areas"`
		ValidFrom string   `dynamodbav:"validFrom"`
		ValidTo   string   `dynamodbav:"validTo"`
	}
	var grants []consent.Grant
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              &s.Name,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: PersonPK(key)},
			":p":  &types.AttributeValueMemberS{Value: skGrantGiven},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query given grants: %w", err)
		}
		var items []grantItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return nil, fmt.Errorf("decode given grants: %w", err)
		}
		for _, it := range items {
			from, _ := time.Parse(time.RFC3339, it.ValidFrom)
			to, _ := time.Parse(time.RFC3339, it.ValidTo)
			grants = append(grants, consent.Grant{ID: it.ID, Areas: it.Areas, ValidFrom: from, ValidTo: to})
		}
	}
	return grants, nil
}

// consentPuts are the two writes of a consent change: the state, only if
// it is still at version expect, and the history event.
func consentPuts(table, pk string, next consent.State, expect int64, ev consent.Event) ([]types.TransactWriteItem, error) {
	state, err := attributevalue.MarshalMap(consentItem{
		PK: pk, SK: skConsent, Status: string(next.Status), Level: string(next.Level), PatientTravel: next.PatientTravel,
		Version: next.Version, UpdatedAt: next.UpdatedAt.UTC().Format(timeLayout), Channel: string(next.Channel), WithdrawalID: next.WithdrawalID,
	})
	if err != nil {
		return nil, fmt.Errorf("encode consent item: %w", err)
	}
	cond, names, vals := atVersion(expect)
	event, err := attributevalue.MarshalMap(eventItem{
		PK: pk, SK: skConsentLog + ev.At.UTC().Format(timeLayout) + "#" + ev.ID, ID: ev.ID, At: ev.At.UTC().Format(timeLayout),
		Action: string(ev.Action), Level: string(ev.Level), PatientTravel: ev.PatientTravel, Channel: string(ev.Channel), Version: ev.Version,
		FormID: ev.FormID, Operator: ev.Operator,
	})
	if err != nil {
		return nil, fmt.Errorf("encode consent event: %w", err)
	}
	return []types.TransactWriteItem{
		{Put: &types.Put{TableName: &table, Item: state, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}},
		{Put: &types.Put{TableName: &table, Item: event, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	}, nil
}

// decodeConsent is the state in a consent item; StatusNone if there is none.
func decodeConsent(item map[string]types.AttributeValue) (consent.State, error) {
	if item == nil {
		return consent.State{Status: consent.StatusNone}, nil
	}
	var it consentItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return consent.State{}, fmt.Errorf("decode consent item: %w", err)
	}
	at, _ := time.Parse(timeLayout, it.UpdatedAt)
	return consent.State{
		Status: consent.Status(it.Status), Level: consent.Level(it.Level), PatientTravel: it.PatientTravel,
		Version: it.Version, UpdatedAt: at, Channel: consent.Channel(it.Channel), WithdrawalID: it.WithdrawalID,
	}, nil
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func toReceiptItem(pk string, r consent.Receipt) receiptItem {
	it := receiptItem{
		PK: pk, SK: skReceipt + r.ID, ID: r.ID, Reason: string(r.Reason), Status: string(r.Status),
		StartedAt: r.StartedAt.UTC().Format(timeLayout), Deleted: r.Deleted,
	}
	if it.Deleted == nil {
		it.Deleted = map[string]int{}
	}
	if !r.CompletedAt.IsZero() {
		it.CompletedAt = r.CompletedAt.UTC().Format(timeLayout)
	}
	return it
}

func fromReceiptItem(it receiptItem) consent.Receipt {
	started, _ := time.Parse(timeLayout, it.StartedAt)
	var completed time.Time
	if it.CompletedAt != "" {
		completed, _ = time.Parse(timeLayout, it.CompletedAt)
	}
	if it.Deleted == nil {
		it.Deleted = map[string]int{}
	}
	return consent.Receipt{
		ID: it.ID, Reason: consent.Reason(it.Reason), Status: consent.ReceiptStatus(it.Status),
		StartedAt: started, CompletedAt: completed, Deleted: it.Deleted,
	}
}
