package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// Death marker statuses.
const (
	deathPending  = "pending"
	deathAnnulled = "annulled"
	deathPurged   = "purged"
)

type deceasedItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	Status        string `dynamodbav:"status"`
	NoticeID      string `dynamodbav:"noticeId"`
	JobID         string `dynamodbav:"jobId"`
	ReceivedAt    string `dynamodbav:"receivedAt"`
	DueAt         string `dynamodbav:"dueAt"`
	AnnulNoticeID string `dynamodbav:"annulNoticeId,omitempty"`
	AnnulledAt    string `dynamodbav:"annulledAt,omitempty"`
	LateAnnulment string `dynamodbav:"lateAnnulment,omitempty"`
}

// DeathJobID derives the deletion job's id from the person and the death
// notice, so recording the same death twice names the same job.
func DeathJobID(key personkey.Key, noticeID string) string {
	sum := sha256.Sum256([]byte(string(key) + "\x00" + noticeID))
	return "death-" + hex.EncodeToString(sum[:12])
}

// deathItems are a pending death marker and its deletion job, due at due.
func deathItems(key personkey.Key, noticeID string, received, due, now time.Time) (marker, job map[string]types.AttributeValue, err error) {
	jobID := DeathJobID(key, noticeID)
	marker, err = attributevalue.MarshalMap(deceasedItem{
		PK: PersonPK(key), SK: skDeceased, Status: deathPending, NoticeID: noticeID, JobID: jobID,
		ReceivedAt: received.UTC().Format(timeLayout), DueAt: due.UTC().Format(timeLayout),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encode death marker: %w", err)
	}
	job, err = attributevalue.MarshalMap(jobItem{
		PK: jobPK(jobID), SK: skJob, JobID: jobID, PersonKey: string(key), Reason: string(consent.ReasonDeath),
		Status: string(deletion.StatusPending), DueAt: due.UTC().Format(timeLayout), DueBucket: dueBucket,
		NoticeID: noticeID, CreatedAt: now.UTC().Format(timeLayout),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("encode job: %w", err)
	}
	return marker, job, nil
}

// RecordDeath writes the death marker and the deletion job alone, in one
// transaction that also checks that no annulment of this notice arrived
// first (tests and tools seed deaths with it; the notice worker records a
// death with everything else the notice changes, see DeathNoticeStore).
func (s DeathStore) RecordDeath(ctx context.Context, key personkey.Key, noticeID string, received, due time.Time) (notices.Outcome, error) {
	pk := PersonPK(key)
	marker, job, err := deathItems(key, noticeID, received, due, s.Now())
	if err != nil {
		return "", err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: &s.Name, Item: marker,
			// A new death may replace an annulled one, never a live one.
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR #s = :annulled"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":annulled": &types.AttributeValueMemberS{Value: deathAnnulled}},
		}},
		{Put: &types.Put{TableName: &s.Name, Item: job, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: &s.Name, Key: itemKey(pk, skAnnulled+noticeID), ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
	}})
	if err == nil {
		return notices.OutcomeDeathRecorded, nil
	}
	failed := cancelledConditions(err)
	switch {
	case failed == nil:
		return "", fmt.Errorf("record death: %w", err)
	case failed[2]:
		return notices.OutcomeDeathAnnulledEarlier, nil
	case failed[1]:
		return notices.OutcomeDeathAlreadyRecorded, nil
	default: // a live marker for some death exists
		m, err := s.deceased(ctx, pk)
		if err != nil {
			return "", err
		}
		if m.NoticeID == noticeID {
			return notices.OutcomeDeathAlreadyRecorded, nil
		}
		return notices.OutcomeDeathAlreadyDifferent, nil
	}
}

// AnnulDeath implements notices.Deaths.
func (s DeathStore) AnnulDeath(ctx context.Context, key personkey.Key, deathNoticeID, annulNoticeID string, at time.Time) (notices.Outcome, error) {
	pk := PersonPK(key)
	for attempt := 0; attempt < 3; attempt++ {
		m, err := s.deceased(ctx, pk)
		if err != nil {
			return "", err
		}
		if m.NoticeID != deathNoticeID {
			// The death has not arrived (or another one is registered):
			// remember the annulment so the death notice, when it comes, is void.
			ok, err := s.preAnnul(ctx, pk, deathNoticeID, annulNoticeID, at)
			if err != nil {
				return "", err
			}
			if ok {
				return notices.OutcomeAnnulmentBeforeDeath, nil
			}
			continue // the death arrived meanwhile
		}
		switch m.Status {
		case deathAnnulled:
			return notices.OutcomeAlreadyAnnulled, nil
		case deathPurged:
			return s.lateAnnulment(ctx, pk, annulNoticeID)
		}
		_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: &s.Name, Key: itemKey(pk, skDeceased),
				UpdateExpression:         aws.String("SET #s = :annulled, annulNoticeId = :a, annulledAt = :t"),
				ConditionExpression:      aws.String("#s = :pending AND noticeId = :n"),
				ExpressionAttributeNames: map[string]string{"#s": "status"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":annulled": &types.AttributeValueMemberS{Value: deathAnnulled}, ":pending": &types.AttributeValueMemberS{Value: deathPending},
					":a": &types.AttributeValueMemberS{Value: annulNoticeID}, ":n": &types.AttributeValueMemberS{Value: deathNoticeID},
					":t": &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
				},
			}},
			{Update: &types.Update{
				TableName: &s.Name, Key: itemKey(jobPK(m.JobID), skJob),
				UpdateExpression:         aws.String("SET #s = :cancelled, updatedAt = :t REMOVE dueBucket"),
				ConditionExpression:      aws.String("#s IN (:pending, :queued)"),
				ExpressionAttributeNames: map[string]string{"#s": "status"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":cancelled": &types.AttributeValueMemberS{Value: string(deletion.StatusCancelled)},
					":pending":   &types.AttributeValueMemberS{Value: string(deletion.StatusPending)},
					":queued":    &types.AttributeValueMemberS{Value: string(deletion.StatusQueued)},
					":t":         &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
				},
			}},
		}})
		if err == nil {
			return notices.OutcomeAnnulled, nil
		}
		failed := cancelledConditions(err)
		if failed == nil {
			return "", fmt.Errorf("annul death: %w", err)
		}
		if failed[1] && !failed[0] {
			// The purge has started or finished: nothing is left to restore.
			return s.lateAnnulment(ctx, pk, annulNoticeID)
		}
		// The marker changed under us: look again.
	}
	return "", errors.New("annul death: marker kept changing")
}

func (s DeathStore) preAnnul(ctx context.Context, pk, deathNoticeID, annulNoticeID string, at time.Time) (bool, error) {
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: skAnnulled + deathNoticeID},
		"annulNoticeId": &types.AttributeValueMemberS{Value: annulNoticeID},
		"at":            &types.AttributeValueMemberS{Value: at.UTC().Format(timeLayout)},
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.Name, Item: item}},
		{ConditionCheck: &types.ConditionCheck{
			TableName: &s.Name, Key: itemKey(pk, skDeceased),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR noticeId <> :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberS{Value: deathNoticeID}},
		}},
	}})
	if err == nil {
		return true, nil
	}
	if cancelledConditions(err) != nil {
		return false, nil
	}
	return false, fmt.Errorf("record annulment: %w", err)
}

// lateAnnulment notes on the marker that an annulment came after the purge
// began; there is nothing left to restore.
func (s DeathStore) lateAnnulment(ctx context.Context, pk, annulNoticeID string) (notices.Outcome, error) {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(pk, skDeceased),
		UpdateExpression:          aws.String("SET lateAnnulment = :a"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: annulNoticeID}},
	})
	if err != nil && !isConditionFailed(err) {
		return "", fmt.Errorf("record late annulment: %w", err)
	}
	return notices.OutcomeAnnulledAfterPurge, nil
}

// Deceased implements notices.Deaths.
func (s DeathStore) Deceased(ctx context.Context, key personkey.Key) (bool, error) {
	m, err := s.deceased(ctx, PersonPK(key))
	if err != nil {
		return false, err
	}
	return m.Status == deathPending || m.Status == deathPurged, nil
}

// MarkPurged implements deletion.Deaths.
func (s DeathStore) MarkPurged(ctx context.Context, key personkey.Key, jobID string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(PersonPK(key), skDeceased),
		UpdateExpression:         aws.String("SET #s = :purged"),
		ConditionExpression:      aws.String("jobId = :j"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":purged": &types.AttributeValueMemberS{Value: deathPurged}, ":j": &types.AttributeValueMemberS{Value: jobID},
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("mark purged: %w", err)
	}
	return nil
}

func (s DeathStore) deceased(ctx context.Context, pk string) (deceasedItem, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(pk, skDeceased), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return deceasedItem{}, fmt.Errorf("get death marker: %w", err)
	}
	var m deceasedItem
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &m); err != nil {
			return deceasedItem{}, fmt.Errorf("decode death marker: %w", err)
		}
	}
	return m, nil
}

// cancelledConditions returns, for a transaction cancelled by condition
// checks, which of its items failed; nil for any other error.
func cancelledConditions(err error) []bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	failed := make([]bool, len(tce.CancellationReasons))
	anyCond := false
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			failed[i], anyCond = true, true
		} else if c := aws.ToString(r.Code); c != "" && c != "None" {
			return nil // throttled or conflicting: not a condition answer
		}
	}
	if !anyCond {
		return nil
	}
	return failed
}
