package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/deletion"
)

// ByStatusIndex holds every item that has both a status and a dueAt: the
// deletion jobs (and the DECEASED markers, which the count filters out),
// partitioned by status and sorted by due time. Unlike ByDue, a job stays in
// it when it is queued or purging, so "not done although due before T" is
// one Query per open status that reads only the jobs it counts.
//
// Because status is a key of this index, every item's status attribute must
// be a string (all are).
const ByStatusIndex = "ByStatus"

// CountOpen implements deletion.OpenJobs: jobs in one of statuses whose
// dueAt is at or before t, counted with Select COUNT, page by page.
func (s JobStore) CountOpen(ctx context.Context, statuses []deletion.Status, t time.Time) (int, error) {
	total := 0
	for _, st := range statuses {
		var start map[string]types.AttributeValue
		for {
			out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
				TableName:                &s.Name,
				IndexName:                aws.String(ByStatusIndex),
				KeyConditionExpression:   aws.String("#s = :s AND dueAt <= :t"),
				FilterExpression:         aws.String("begins_with(pk, :job)"),
				ExpressionAttributeNames: map[string]string{"#s": "status"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":s":   &types.AttributeValueMemberS{Value: string(st)},
					":t":   &types.AttributeValueMemberS{Value: t.UTC().Format(timeLayout)},
					":job": &types.AttributeValueMemberS{Value: jobPK("")},
				},
				Select:            types.SelectCount,
				ExclusiveStartKey: start,
			})
			if err != nil {
				return 0, fmt.Errorf("count %s jobs: %w", st, err)
			}
			total += int(out.Count)
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			start = out.LastEvaluatedKey
		}
	}
	return total, nil
}
