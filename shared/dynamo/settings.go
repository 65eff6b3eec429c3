package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
)

// skSCR prefixes summary care record content: SCR#g<generation>#...
const skSCR = "SCR#g"

// scrScope reports whether scope is an SCR scope and whether it deletes sk.
func scrScope(sk string, scope consent.Scope) (isSCR, deletes bool) {
	upTo, isSCR, ok := settings.SCRGenerations(scope)
	if !isSCR {
		return false, false
	}
	if !ok || !strings.HasPrefix(sk, skSCR) {
		return true, false
	}
	n, _, _ := strings.Cut(strings.TrimPrefix(sk, skSCR), "#")
	gen, err := strconv.Atoi(n)
	return true, err == nil && gen <= upTo
}

type settingsItem struct {
	PK                   string `dynamodbav:"pk"`
	SK                   string `dynamodbav:"sk"`
	EmergencyBlock       bool   `dynamodbav:"emergencyBlock"`
	PatientRecordRemoved bool   `dynamodbav:"patientRecordRemoved"`
	SCRAccessRemoved     bool   `dynamodbav:"scrAccessRemoved"`
	SCROptedOut          bool   `dynamodbav:"scrOptedOut"`
	SCROptedOutAt        string `dynamodbav:"scrOptedOutAt,omitempty"`
	SCRGeneration        int    `dynamodbav:"scrGeneration"`
	SCRPurgeJob          string `dynamodbav:"scrPurgeJob,omitempty"`
	Version              int64  `dynamodbav:"version"`
	// UpdatedAt is the time of the last change (absent on items written
	// before it existed); a merge after an id change compares it.
	UpdatedAt string `dynamodbav:"updatedAt,omitempty"`
}

// Settings returns a person's privacy settings (all off if never set).
func (s SettingsStore) Settings(ctx context.Context, key personkey.Key) (settings.State, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(PersonPK(key), skSettings), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return settings.State{}, fmt.Errorf("get settings: %w", err)
	}
	if out.Item == nil {
		return settings.State{}, nil
	}
	var it settingsItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return settings.State{}, fmt.Errorf("decode settings: %w", err)
	}
	at, _ := time.Parse(timeLayout, it.SCROptedOutAt)
	return settings.State{
		EmergencyBlock: it.EmergencyBlock, PatientRecordRemoved: it.PatientRecordRemoved, SCRAccessRemoved: it.SCRAccessRemoved,
		SCROptedOut: it.SCROptedOut, SCROptedOutAt: at, SCRGeneration: it.SCRGeneration, SCRPurgeJob: it.SCRPurgeJob, Version: it.Version,
	}, nil
}

// Save implements settings.Store: it writes the new state (if still at version Expect), the
// opt-out record, and creates or cancels a deletion job, in one transaction.
func (s SettingsStore) Save(ctx context.Context, key personkey.Key, u settings.Update) error {
	pk := PersonPK(key)
	n := u.Next
	it := settingsItem{
		PK: pk, SK: skSettings, EmergencyBlock: n.EmergencyBlock, PatientRecordRemoved: n.PatientRecordRemoved,
		SCRAccessRemoved: n.SCRAccessRemoved, SCROptedOut: n.SCROptedOut, SCRGeneration: n.SCRGeneration, SCRPurgeJob: n.SCRPurgeJob, Version: n.Version,
		UpdatedAt: u.Change.At.UTC().Format(timeLayout),
	}
	if !n.SCROptedOutAt.IsZero() {
		it.SCROptedOutAt = n.SCROptedOutAt.UTC().Format(timeLayout)
	}
	state, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	cond, names, vals := atVersion(u.Expect)
	put := &types.Put{TableName: &s.Name, Item: state, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}
	c := u.Change
	record := map[string]types.AttributeValue{
		"pk":      &types.AttributeValueMemberS{Value: pk},
		"sk":      &types.AttributeValueMemberS{Value: skOptOut + string(c.Setting) + "#" + c.At.UTC().Format(timeLayout) + "#" + c.ID},
		"setting": &types.AttributeValueMemberS{Value: string(c.Setting)},
		"value":   &types.AttributeValueMemberS{Value: c.Value},
		"by":      &types.AttributeValueMemberS{Value: string(c.By)},
		"channel": &types.AttributeValueMemberS{Value: string(c.Channel)},
		"at":      &types.AttributeValueMemberS{Value: c.At.UTC().Format(timeLayout)},
	}
	if c.FormID != "" {
		record["formId"] = &types.AttributeValueMemberS{Value: c.FormID}
	}
	if c.Operator != "" {
		record["operator"] = &types.AttributeValueMemberS{Value: c.Operator}
	}
	items := []types.TransactWriteItem{{Put: put}, {Put: &types.Put{TableName: &s.Name, Item: record}}}
	if j := u.NewJob; j != nil {
		job, err := attributevalue.MarshalMap(jobItem{
			PK: jobPK(j.ID), SK: skJob, JobID: j.ID, PersonKey: string(j.Person), Reason: string(j.Reason), Scope: string(j.Scope),
			Status: string(deletion.StatusPending), DueAt: j.DueAt.UTC().Format(timeLayout), DueBucket: dueBucket,
			CreatedAt: c.At.UTC().Format(timeLayout),
		})
		if err != nil {
			return fmt.Errorf("encode job: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: job, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	if u.CancelJob != "" {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: &s.Name, Key: itemKey(jobPK(u.CancelJob), skJob),
			UpdateExpression:         aws.String("SET #s = :cancelled REMOVE dueBucket"),
			ConditionExpression:      aws.String("#s IN (:pending, :queued)"),
			ExpressionAttributeNames: map[string]string{"#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":cancelled": &types.AttributeValueMemberS{Value: string(deletion.StatusCancelled)},
				":pending":   &types.AttributeValueMemberS{Value: string(deletion.StatusPending)},
				":queued":    &types.AttributeValueMemberS{Value: string(deletion.StatusQueued)},
			},
		}})
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if failed := cancelledConditions(err); failed != nil {
		if u.CancelJob != "" && failed[len(failed)-1] && !failed[0] {
			return settings.ErrPurgeStarted
		}
		return settings.ErrConcurrentUpdate
	}
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}
