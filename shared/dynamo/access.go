package dynamo

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// skSettings is the person's current privacy settings (emergency block,
// patient record and summary care record access).
const skSettings = "SETTINGS"

// skUsage prefixes usage-log entries.
const skUsage = "USAGE#"

// AccessRecords reads, in one BatchGetItem (one round trip, retried only for
// unprocessed keys), the subject's consent, settings and death marker and,
// when the actor is someone else, the actor's death marker, child link to
// the subject and the subject's power of attorney to the actor.
func (s AccessStore) AccessRecords(ctx context.Context, actor, subject personkey.Key) (access.Records, error) {
	spk := PersonPK(subject)
	keys := []map[string]types.AttributeValue{itemKey(spk, skConsent), itemKey(spk, skSettings), itemKey(spk, skDeceased)}
	if actor != subject {
		apk := PersonPK(actor)
		keys = append(keys, itemKey(apk, skDeceased), itemKey(apk, skChild+string(subject)), itemKey(apk, skGrantReceived+string(subject)))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return access.Records{}, err
	}
	r := access.Records{Subject: access.Person{Consent: consent.State{Status: consent.StatusNone}}}
	for _, it := range items {
		sk := str(it["sk"])
		if sk == skDeceased && str(it["pk"]) != spk {
			status := str(it["status"])
			r.ActorDeceased = status == deathPending || status == deathPurged
			continue
		}
		switch {
		case sk == skConsent:
			var c consentItem
			if err := attributevalue.UnmarshalMap(it, &c); err != nil {
				return access.Records{}, fmt.Errorf("decode consent: %w", err)
			}
			r.Subject.Consent = consent.State{Status: consent.Status(c.Status), Level: consent.Level(c.Level), PatientTravel: c.PatientTravel, Version: c.Version}
		case sk == skSettings:
			st, err := decodeSettings(it)
			if err != nil {
				return access.Records{}, err
			}
			r.Subject.Settings = st
		case sk == skDeceased:
			status := str(it["status"])
			r.Subject.Deceased = status == deathPending || status == deathPurged
		case strings.HasPrefix(sk, skChild):
			if b, ok := it["ended"].(*types.AttributeValueMemberBOOL); ok && b.Value {
				continue // ended: no relation
			}
			r.Link = &access.Link{Foster: str(it["kind"]) == relationFoster}
			if d, err := parseDate(str(it["childBirthDate"])); err == nil {
				r.ChildBirth = d
				r.Subject.Birth = d
			}
		case strings.HasPrefix(sk, skGrantReceived):
			var g grantItem
			if err := attributevalue.UnmarshalMap(it, &g); err != nil {
				return access.Records{}, fmt.Errorf("decode grant: %w", err)
			}
			ag := g.grant().Access()
			r.Grant = &ag
		}
	}
	if actor == subject {
		r.ActorDeceased = r.Subject.Deceased
	}
	return r, nil
}

func (s *Table) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.Name: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("batch get: %w", err)
		}
		items = append(items, out.Responses[s.Name]...)
		if len(out.UnprocessedKeys) == 0 || len(out.UnprocessedKeys[s.Name].Keys) == 0 {
			return items, nil
		}
		if attempt == maxBatchAttempts {
			return nil, fmt.Errorf("batch get: keys still unprocessed after %d attempts", attempt)
		}
		req = out.UnprocessedKeys
		if err := s.Sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

func decodeSettings(it map[string]types.AttributeValue) (access.Settings, error) {
	var v struct {
		EmergencyBlock       bool `dynamodbav:"emergencyBlock"`
		PatientRecordRemoved bool `dynamodbav:"patientRecordRemoved"`
		SCRAccessRemoved     bool `dynamodbav:"scrAccessRemoved"`
		SCROptedOut          bool `dynamodbav:"scrOptedOut"`
	}
	if err := attributevalue.UnmarshalMap(it, &v); err != nil {
		return access.Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	return access.Settings(v), nil
}

func parseDate(s string) (nin.Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nin.Date{}, err
	}
	return nin.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}, nil
}

// AppendUsage adds an entry to the person's usage log; it expires after
// retention (the table's TTL deletes it).
func (s UsageStore) AppendUsage(ctx context.Context, key personkey.Key, u access.Usage, retention time.Duration) error {
	item := map[string]types.AttributeValue{
		"pk":        &types.AttributeValueMemberS{Value: PersonPK(key)},
		"sk":        &types.AttributeValueMemberS{Value: skUsage + u.At.UTC().Format(timeLayout) + "#" + u.ID},
		"id":        &types.AttributeValueMemberS{Value: u.ID},
		"at":        &types.AttributeValueMemberS{Value: u.At.UTC().Format(timeLayout)},
		"kind":      &types.AttributeValueMemberS{Value: u.Kind},
		"by":        &types.AttributeValueMemberS{Value: string(u.By)},
		"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(u.At.Add(retention).Unix(), 10)},
	}
	if u.Service != "" {
		item["service"] = &types.AttributeValueMemberS{Value: u.Service}
	}
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Name, Item: item}); err != nil {
		return fmt.Errorf("append usage: %w", err)
	}
	return nil
}

// UsageLog returns up to limit entries, newest first, and the next cursor.
func (s UsageStore) UsageLog(ctx context.Context, key personkey.Key, limit int, cursor string) ([]access.Usage, string, error) {
	items, next, err := s.newestFirst(ctx, PersonPK(key), skUsage, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("query usage log: %w", err)
	}
	entries := make([]access.Usage, 0, len(items))
	for _, it := range items {
		at, _ := time.Parse(timeLayout, str(it["at"]))
		entries = append(entries, access.Usage{ID: str(it["id"]), At: at, Kind: str(it["kind"]), Service: str(it["service"]), By: access.Role(str(it["by"]))})
	}
	return entries, next, nil
}

// newestFirst reads one page of a partition's items under a sort-key
// prefix, newest first. The cursor is the last sort key of the previous
// page, base64url-encoded; one outside the prefix is refused.
func (s *Table) newestFirst(ctx context.Context, pk, prefix string, limit int, cursor string) ([]map[string]types.AttributeValue, string, error) {
	in := &dynamodb.QueryInput{
		TableName:              &s.Name,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
	}
	if cursor != "" {
		sk, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.HasPrefix(string(sk), prefix) {
			return nil, "", domain.ErrInvalidCursor
		}
		in.ExclusiveStartKey = itemKey(pk, string(sk))
	}
	out, err := s.DB.Query(ctx, in)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if sk, ok := out.LastEvaluatedKey["sk"].(*types.AttributeValueMemberS); ok {
		next = base64.RawURLEncoding.EncodeToString([]byte(sk.Value))
	}
	return out.Items, next, nil
}
