package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/access"
	"privacycore/shared/domain/agejob"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// TurningOn implements agejob.Store with one Query on a sparse birthday index.
func (s AgeJobStore) TurningOn(ctx context.Context, age int, day nin.Date) ([]agejob.Link, error) {
	index, attr := Turns16Index, Turns16Attr
	if age == 12 {
		index, attr = Turns12Index, Turns12Attr
	}
	var links []agejob.Link
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:                 &s.Name,
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#d = :d"),
		ExpressionAttributeNames:  map[string]string{"#d": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: day.String()}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", index, err)
		}
		for _, it := range out.Items {
			links = append(links, agejob.Link{
				Parent: personkey.Key(strings.TrimPrefix(str(it["pk"]), "P#")),
				Child:  personkey.Key(strings.TrimPrefix(str(it["sk"]), skChild)),
			})
		}
	}
	return links, nil
}

// Note implements agejob.Store: a usage-log entry whose key is derived from
// its id and time, so writing it again overwrites it.
func (s AgeJobStore) Note(ctx context.Context, child personkey.Key, id, kind string, at time.Time) error {
	return UsageStore(s).AppendUsage(ctx, child, access.Usage{ID: id, At: at, Kind: kind}, 3*365*24*time.Hour)
}

const (
	pkAgeJob = "AGEJOB"
	skCursor = "CURSOR"
)

// Cursor implements agejob.Store.
func (s AgeJobStore) Cursor(ctx context.Context) (nin.Date, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(pkAgeJob, skCursor), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nin.Date{}, false, fmt.Errorf("get age-job cursor: %w", err)
	}
	if out.Item == nil {
		return nin.Date{}, false, nil
	}
	d, err := parseDate(str(out.Item["day"]))
	if err != nil {
		return nin.Date{}, false, fmt.Errorf("age-job cursor: %w", err)
	}
	return d, true, nil
}

// SetCursor implements agejob.Store; the cursor only moves forward.
func (s AgeJobStore) SetCursor(ctx context.Context, day nin.Date) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.Name, Key: itemKey(pkAgeJob, skCursor),
		UpdateExpression:          aws.String("SET #d = :d"),
		ConditionExpression:       aws.String("attribute_not_exists(#d) OR #d < :d"),
		ExpressionAttributeNames:  map[string]string{"#d": "day"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: day.String()}},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("set age-job cursor: %w", err)
	}
	return nil
}
