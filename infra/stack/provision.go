package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DynamoDB is the part of the DynamoDB client provisioning uses.
type DynamoDB interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
}

// SQS is the part of the SQS client provisioning uses.
type SQS interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	DeleteQueue(ctx context.Context, in *sqs.DeleteQueueInput, opts ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

// Provision creates the resolved tables and queues. Dead-letter queues are
// created before the queues that redrive to them. It returns queue URLs by
// logical id.
func Provision(ctx context.Context, db DynamoDB, q SQS, r *Resolved) (map[string]string, error) {
	for _, t := range r.Tables {
		if _, err := db.CreateTable(ctx, createTableInput(t)); err != nil {
			var inUse *ddbtypes.ResourceInUseException
			if !errors.As(err, &inUse) {
				return nil, fmt.Errorf("create table %s: %w", t.LogicalID, err)
			}
		}
		if t.TTLAttr != "" {
			_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               aws.String(t.Name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttr), Enabled: aws.Bool(true)},
			})
			if err != nil {
				return nil, fmt.Errorf("enable TTL on %s: %w", t.LogicalID, err)
			}
		}
	}
	// A queue is created once the queue it redrives to exists (chains of
	// dead-letter queues included); a pass that creates nothing means a cycle.
	urls := map[string]string{}
	for len(urls) < len(r.Queues) {
		created := 0
		for _, qu := range r.Queues {
			if _, done := urls[qu.LogicalID]; done {
				continue
			}
			if _, ready := urls[qu.DeadLetterQueue]; qu.DeadLetterQueue != "" && !ready {
				continue
			}
			out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(qu.Name), Attributes: qu.Attributes})
			if err != nil {
				return nil, fmt.Errorf("create queue %s: %w", qu.LogicalID, err)
			}
			urls[qu.LogicalID] = aws.ToString(out.QueueUrl)
			created++
		}
		if created == 0 {
			return nil, errors.New("create queues: redrive policies form a cycle or name a queue not in the template")
		}
	}
	return urls, nil
}

// Teardown deletes what Provision created; errors are joined, not fatal.
func Teardown(ctx context.Context, db DynamoDB, q SQS, r *Resolved, urls map[string]string) error {
	var errs []error
	for _, t := range r.Tables {
		if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t.Name)}); err != nil {
			errs = append(errs, fmt.Errorf("delete table %s: %w", t.LogicalID, err))
		}
	}
	for _, u := range urls {
		if _, err := q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)}); err != nil {
			errs = append(errs, fmt.Errorf("delete queue: %w", err))
		}
	}
	return errors.Join(errs...)
}

func createTableInput(t Table) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(t.Name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   keys(t.HashKey, t.RangeKey),
	}
	for name, typ := range t.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(name), AttributeType: ddbtypes.ScalarAttributeType(typ),
		})
	}
	for _, g := range t.GSIs {
		proj := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(g.ProjectionType)}
		if len(g.NonKeyAttrs) > 0 {
			proj.NonKeyAttributes = g.NonKeyAttrs
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.Name), KeySchema: keys(g.HashKey, g.RangeKey), Projection: proj,
		})
	}
	if t.StreamsView != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(t.StreamsView)}
	}
	return in
}

func keys(hash, rng string) []ddbtypes.KeySchemaElement {
	ks := []ddbtypes.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: ddbtypes.KeyTypeHash}}
	if rng != "" {
		ks = append(ks, ddbtypes.KeySchemaElement{AttributeName: aws.String(rng), KeyType: ddbtypes.KeyTypeRange})
	}
	return ks
}
