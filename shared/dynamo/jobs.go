package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/personkey"
)

// ByDueIndex is the sparse index of pending jobs: only a pending job has
// dueBucket, so "all jobs due before T" is one Query that reads due jobs
// only, however many jobs wait for later or are finished.
const ByDueIndex = "ByDue"

// dueBucket is the index partition of pending jobs. Deaths run at tens of
// thousands a year, far below one index partition's write limit; shard the
// bucket (PENDING#0..n) if that ever changes.
const dueBucket = "PENDING"

const skJob = "JOB"

func jobPK(id string) string { return "JOB#" + id }

type jobItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	JobID       string `dynamodbav:"jobId"`
	PersonKey   string `dynamodbav:"personKey"`
	Reason      string `dynamodbav:"reason"`
	Scope       string `dynamodbav:"scope,omitempty"`
	Status      string `dynamodbav:"status"`
	DueAt       string `dynamodbav:"dueAt"`
	DueBucket   string `dynamodbav:"dueBucket,omitempty"`
	NoticeID    string `dynamodbav:"noticeId,omitempty"`
	CreatedAt   string `dynamodbav:"createdAt"`
	UpdatedAt   string `dynamodbav:"updatedAt,omitempty"`
	CompletedAt string `dynamodbav:"completedAt,omitempty"`
}

// Due implements deletion.Jobs with one Query on the ByDue index.
func (s JobStore) Due(ctx context.Context, now time.Time, limit int32) ([]string, error) {
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.Name,
		IndexName:              aws.String(ByDueIndex),
		KeyConditionExpression: aws.String("dueBucket = :b AND dueAt <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":b":   &types.AttributeValueMemberS{Value: dueBucket},
			":now": &types.AttributeValueMemberS{Value: now.UTC().Format(timeLayout)},
		},
		Limit: aws.Int32(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("query due jobs: %w", err)
	}
	ids := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		if pk, ok := it["pk"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, strings.TrimPrefix(pk.Value, "JOB#"))
		}
	}
	return ids, nil
}

// MarkQueued implements deletion.Jobs.
func (s JobStore) MarkQueued(ctx context.Context, id string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(jobPK(id), skJob),
		UpdateExpression:         aws.String("SET #s = :queued, updatedAt = :t REMOVE dueBucket"),
		ConditionExpression:      aws.String("#s = :pending"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":queued":  &types.AttributeValueMemberS{Value: string(deletion.StatusQueued)},
			":pending": &types.AttributeValueMemberS{Value: string(deletion.StatusPending)},
			":t":       &types.AttributeValueMemberS{Value: s.Now().UTC().Format(timeLayout)},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark job %s queued: %w", id, err)
	}
	return nil
}

// Start implements deletion.Jobs: one conditional write on the job's
// status and due time claims it, so no message, however it arrived (a
// redrive, a hand-sent message), can start a job before it is due.
func (s JobStore) Start(ctx context.Context, id string, now time.Time) (deletion.Job, bool, error) {
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(jobPK(id), skJob),
		UpdateExpression:         aws.String("SET #s = :purging, updatedAt = :t REMOVE dueBucket"),
		ConditionExpression:      aws.String("#s IN (:pending, :queued, :purging) AND dueAt <= :now"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":purging": &types.AttributeValueMemberS{Value: string(deletion.StatusPurging)},
			":pending": &types.AttributeValueMemberS{Value: string(deletion.StatusPending)},
			":queued":  &types.AttributeValueMemberS{Value: string(deletion.StatusQueued)},
			":t":       &types.AttributeValueMemberS{Value: s.Now().UTC().Format(timeLayout)},
			":now":     &types.AttributeValueMemberS{Value: now.UTC().Format(timeLayout)},
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var old jobItem
		if ccf.Item != nil {
			if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
				return deletion.Job{}, false, fmt.Errorf("decode job: %w", err)
			}
		}
		switch deletion.Status(old.Status) {
		case deletion.StatusPending, deletion.StatusQueued, deletion.StatusPurging:
			return deletion.Job{}, false, fmt.Errorf("job %s due %s: %w", id, old.DueAt, deletion.ErrNotDue)
		}
		return deletion.Job{}, false, nil // cancelled, done, or no such job
	}
	if err != nil {
		return deletion.Job{}, false, fmt.Errorf("start job %s: %w", id, err)
	}
	var it jobItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return deletion.Job{}, false, fmt.Errorf("decode job: %w", err)
	}
	return it.job(), true, nil
}

// Create implements deletion.JobCreator: a pending job due at j.DueAt (so
// in the ByDue index), unless a job with its id exists.
func (s JobStore) Create(ctx context.Context, j deletion.Job) (bool, error) {
	it := jobItem{
		PK: jobPK(j.ID), SK: skJob, JobID: j.ID, PersonKey: string(j.Person), Reason: string(j.Reason), Scope: string(j.Scope),
		Status: string(deletion.StatusPending), DueAt: j.DueAt.UTC().Format(timeLayout), DueBucket: dueBucket,
		CreatedAt: s.Now().UTC().Format(timeLayout),
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("encode job: %w", err)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Name, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put job: %w", err)
	}
	return true, nil
}

// Finish implements deletion.Jobs.
func (s JobStore) Finish(ctx context.Context, id string, at time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(jobPK(id), skJob),
		UpdateExpression:         aws.String("SET #s = :done, completedAt = :t, updatedAt = :t REMOVE dueBucket"),
		ConditionExpression:      aws.String("#s IN (:pending, :queued, :purging)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done":    &types.AttributeValueMemberS{Value: string(deletion.StatusDone)},
			":pending": &types.AttributeValueMemberS{Value: string(deletion.StatusPending)},
			":queued":  &types.AttributeValueMemberS{Value: string(deletion.StatusQueued)},
			":purging": &types.AttributeValueMemberS{Value: string(deletion.StatusPurging)},
			":t":       &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

// Job returns a job's status and due time (for operators and tests).
func (s JobStore) Job(ctx context.Context, id string) (deletion.Job, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(jobPK(id), skJob), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return deletion.Job{}, false, fmt.Errorf("get job: %w", err)
	}
	if out.Item == nil {
		return deletion.Job{}, false, nil
	}
	var it jobItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return deletion.Job{}, false, fmt.Errorf("decode job: %w", err)
	}
	return it.job(), true, nil
}

func (it jobItem) job() deletion.Job {
	due, _ := time.Parse(timeLayout, it.DueAt)
	return deletion.Job{
		ID: it.JobID, Person: personkey.Key(it.PersonKey), Reason: consent.Reason(it.Reason), Scope: consent.Scope(it.Scope),
		Status: deletion.Status(it.Status), DueAt: due,
	}
}

// EnsureReceipt implements deletion.Receipts.
func (s ConsentStore) EnsureReceipt(ctx context.Context, key personkey.Key, r consent.Receipt) error {
	item, err := attributevalue.MarshalMap(toReceiptItem(PersonPK(key), r))
	if err != nil {
		return fmt.Errorf("encode receipt: %w", err)
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Name, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("put receipt: %w", err)
	}
	return nil
}
