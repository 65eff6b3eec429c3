package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/personkey"
)

// A form's record lives in its own partition, FORM#<form id>. It holds no
// person id or key: the queue message carries the keys to the worker.
const skForm = "FORM"

func formPK(id string) string { return "FORM#" + id }

type formItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	FormID       string `dynamodbav:"formId"`
	Operator     string `dynamodbav:"operator"`
	Kind         string `dynamodbav:"kind"`
	Status       string `dynamodbav:"status"`
	Reason       string `dynamodbav:"reason,omitempty"`
	ReceivedDate string `dynamodbav:"receivedDate"`
	SubmittedAt  string `dynamodbav:"submittedAt"`
	DecidedAt    string `dynamodbav:"decidedAt,omitempty"`
	Digest       string `dynamodbav:"digest"`
}

// CreateForm stores a new form as received; created is false if a form
// with this id exists (its record is returned).
func (s FormStore) CreateForm(ctx context.Context, r forms.Record) (forms.Record, bool, error) {
	item, err := attributevalue.MarshalMap(formItem{
		PK: formPK(r.FormID), SK: skForm, FormID: r.FormID, Operator: string(r.Operator), Kind: string(r.Kind), Status: string(forms.Received),
		ReceivedDate: r.ReceivedDate, SubmittedAt: r.SubmittedAt.UTC().Format(timeLayout), Digest: r.Digest,
	})
	if err != nil {
		return forms.Record{}, false, fmt.Errorf("encode form: %w", err)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Name, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		existing, _, err := s.Form(ctx, r.FormID)
		return existing, false, err
	}
	if err != nil {
		return forms.Record{}, false, fmt.Errorf("put form: %w", err)
	}
	r.Status = forms.Received
	return r, true, nil
}

// Form implements forms.Store.
func (s FormStore) Form(ctx context.Context, id string) (forms.Record, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(formPK(id), skForm), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return forms.Record{}, false, fmt.Errorf("get form: %w", err)
	}
	if out.Item == nil {
		return forms.Record{}, false, nil
	}
	var it formItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return forms.Record{}, false, fmt.Errorf("decode form: %w", err)
	}
	sub, _ := time.Parse(timeLayout, it.SubmittedAt)
	dec, _ := time.Parse(timeLayout, it.DecidedAt)
	return forms.Record{FormID: it.FormID, Operator: forms.Operator(it.Operator), Kind: forms.Kind(it.Kind), Status: forms.Status(it.Status), Reason: it.Reason,
		ReceivedDate: it.ReceivedDate, SubmittedAt: sub, DecidedAt: dec, Digest: it.Digest}, true, nil
}

// Decide implements forms.Store: received → applied or rejected, once.
func (s FormStore) Decide(ctx context.Context, id string, status forms.Status, reason string, at time.Time) error {
	vals := map[string]types.AttributeValue{
		":s": &types.AttributeValueMemberS{Value: string(status)}, ":t": &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
		":received": &types.AttributeValueMemberS{Value: string(forms.Received)},
	}
	set := "SET #s = :s, decidedAt = :t"
	if reason != "" {
		set += ", reason = :r"
		vals[":r"] = &types.AttributeValueMemberS{Value: reason}
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(formPK(id), skForm), UpdateExpression: aws.String(set),
		ConditionExpression: aws.String("#s = :received"), ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: vals,
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("decide form: %w", err)
	}
	return nil
}

// IsParent implements forms.Store: a parental (not foster) link exists.
func (s FormStore) IsParent(ctx context.Context, parent, child personkey.Key) (bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(PersonPK(parent), skChild+string(child)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("get parental link: %w", err)
	}
	if out.Item == nil {
		return false, nil
	}
	ended, _ := out.Item["ended"].(*types.AttributeValueMemberBOOL)
	return str(out.Item["kind"]) == relationParent && (ended == nil || !ended.Value), nil
}
