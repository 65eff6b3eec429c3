package stack_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/infra/emulator"
	"privacycore/infra/stack"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

func uniqueStackName(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "p" + hex.EncodeToString(b[:])
}

// TestUpDown provisions testdata/resolve.yaml on the shared emulator and
// checks what moto reports back, then that Down removes all of it.
func TestUpDown(t *testing.T) {
	srv := emulator.Shared(t)
	tmpl := loadTestdata(t, "resolve.yaml")
	name := uniqueStackName(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	l, err := stack.Up(ctx, tmpl, srv, name, map[string]string{"Secret": "s3cret"})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	down := false
	t.Cleanup(func() {
		if !down {
			_ = l.Down(context.Background())
		}
	})

	tableName := name + "-x"
	if got := l.Table("Table"); got != tableName {
		t.Fatalf("Table(Table): got %q, want %q", got, tableName)
	}
	dt, err := l.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	ttl, err := l.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tableName)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	var gsi ddbtypes.GlobalSecondaryIndexDescription
	if len(dt.Table.GlobalSecondaryIndexes) == 1 {
		gsi = dt.Table.GlobalSecondaryIndexes[0]
	}
	var proj ddbtypes.Projection
	if gsi.Projection != nil {
		proj = *gsi.Projection
	}
	var ttlStatus, ttlAttr string
	if d := ttl.TimeToLiveDescription; d != nil {
		ttlStatus, ttlAttr = string(d.TimeToLiveStatus), aws.ToString(d.AttributeName)
	}
	var billing string
	if dt.Table.BillingModeSummary != nil {
		billing = string(dt.Table.BillingModeSummary.BillingMode)
	}

	urls := map[string]string{}
	for _, id := range []string{"Dlq", "Queue", "Fifo"} {
		urls[id] = l.QueueURLs[id]
	}
	attrs := map[string]map[string]string{}
	for id, u := range urls {
		out, err := l.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(u), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("GetQueueAttributes(%s): %v", id, err)
		}
		attrs[id] = out.Attributes
	}
	var redrive struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs["Queue"]["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", attrs["Queue"]["RedrivePolicy"], err)
	}

	tests := []struct {
		name      string
		got, want any
	}{
		{"table key schema", keySchema(dt.Table.KeySchema), []string{"pk HASH", "sk RANGE"}},
		{"table billing mode", billing, "PAY_PER_REQUEST"},
		{"number of GSIs", len(dt.Table.GlobalSecondaryIndexes), 1},
		{"GSI name", aws.ToString(gsi.IndexName), "ByOwner"},
		{"GSI key schema", keySchema(gsi.KeySchema), []string{"gsi1pk HASH", "gsi1sk RANGE"}},
		{"GSI projection type", string(proj.ProjectionType), "INCLUDE"},
		{"GSI non-key attributes", proj.NonKeyAttributes, []string{"status", "level"}},
		{"TTL status", ttlStatus, "ENABLED"},
		{"TTL attribute", ttlAttr, "expiresAt"},
		{"queue URLs", urls, map[string]string{
			"Dlq":   srv.QueueURL(name + "-Dlq"),
			"Queue": srv.QueueURL(name + "-Queue"),
			"Fifo":  srv.QueueURL(name + "-Fifo.fifo"),
		}},
		{"redrive target is the DLQ's ARN", redrive.DeadLetterTargetArn, attrs["Dlq"]["QueueArn"]},
		{"redrive maxReceiveCount", strings.Trim(string(redrive.MaxReceiveCount), `"`), "5"},
		{"queue VisibilityTimeout", attrs["Queue"]["VisibilityTimeout"], "60"},
		{"DLQ MessageRetentionPeriod", attrs["Dlq"]["MessageRetentionPeriod"], "1209600"},
		{"DLQ has no redrive policy", attrs["Dlq"]["RedrivePolicy"], ""},
		{"FIFO queue", attrs["Fifo"]["FifoQueue"], "true"},
		{"FIFO content-based deduplication", attrs["Fifo"]["ContentBasedDeduplication"], "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if attrs["Dlq"]["QueueArn"] == "" {
		t.Error("DLQ QueueArn: got empty, want an ARN")
	}

	if err := l.Down(ctx); err != nil {
		t.Fatalf("Down: %v", err)
	}
	down = true
	t.Run("Down removes the table", func(t *testing.T) {
		_, err := l.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
		var notFound *ddbtypes.ResourceNotFoundException
		if !errors.As(err, &notFound) {
			t.Errorf("DescribeTable after Down: got error %v, want ResourceNotFoundException", err)
		}
	})
	t.Run("Down removes the queues", func(t *testing.T) {
		for id, u := range urls {
			name := u[strings.LastIndex(u, "/")+1:]
			_, err := l.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			var notFound *sqstypes.QueueDoesNotExist
			if !errors.As(err, &notFound) {
				t.Errorf("GetQueueUrl(%s) after Down: got error %v, want QueueDoesNotExist", id, err)
			}
		}
	})
}

func keySchema(ks []ddbtypes.KeySchemaElement) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	return out
}

// fakeAWS records the provisioning calls in order.
type fakeAWS struct {
	calls        []string
	createTable  error // returned by every CreateTable
	deleteErrors bool
}

func (f *fakeAWS) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	f.calls = append(f.calls, "CreateTable "+aws.ToString(in.TableName))
	return &dynamodb.CreateTableOutput{}, f.createTable
}

func (f *fakeAWS) UpdateTimeToLive(_ context.Context, in *dynamodb.UpdateTimeToLiveInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error) {
	f.calls = append(f.calls, "UpdateTimeToLive "+aws.ToString(in.TableName)+" "+aws.ToString(in.TimeToLiveSpecification.AttributeName))
	return &dynamodb.UpdateTimeToLiveOutput{}, nil
}

func (f *fakeAWS) DeleteTable(_ context.Context, in *dynamodb.DeleteTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	f.calls = append(f.calls, "DeleteTable "+aws.ToString(in.TableName))
	if f.deleteErrors {
		return nil, errors.New("boom")
	}
	return &dynamodb.DeleteTableOutput{}, nil
}

func (f *fakeAWS) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	f.calls = append(f.calls, "CreateQueue "+aws.ToString(in.QueueName))
	return &sqs.CreateQueueOutput{QueueUrl: aws.String("http://127.0.0.1:1/123456789012/" + aws.ToString(in.QueueName))}, nil
}

func (f *fakeAWS) DeleteQueue(_ context.Context, in *sqs.DeleteQueueInput, _ ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error) {
	f.calls = append(f.calls, "DeleteQueue "+aws.ToString(in.QueueUrl))
	if f.deleteErrors {
		return nil, errors.New("boom")
	}
	return &sqs.DeleteQueueOutput{}, nil
}

// TestProvisionCalls checks, without an emulator, the order of the calls
// (DLQs before the queues that redrive to them) and the error handling.
func TestProvisionCalls(t *testing.T) {
	res := resolveTestdata(t, map[string]string{"Secret": "x"})
	// Put the redriving queue first, so template order alone would be wrong.
	slices.SortFunc(res.Queues, func(a, b stack.Queue) int { return strings.Compare(b.LogicalID, a.LogicalID) })

	tests := []struct {
		name        string
		createTable error
		wantCalls   []string
		wantErr     string
	}{
		{
			name: "fresh",
			wantCalls: []string{
				"CreateTable s1-x", "UpdateTimeToLive s1-x expiresAt",
				"CreateQueue s1-Fifo.fifo", "CreateQueue s1-Dlq", "CreateQueue s1-Queue",
			},
		},
		{
			name:        "table already exists",
			createTable: &ddbtypes.ResourceInUseException{Message: aws.String("exists")},
			wantCalls: []string{
				"CreateTable s1-x", "UpdateTimeToLive s1-x expiresAt",
				"CreateQueue s1-Fifo.fifo", "CreateQueue s1-Dlq", "CreateQueue s1-Queue",
			},
		},
		{
			name:        "create table fails",
			createTable: errors.New("throttled"),
			wantCalls:   []string{"CreateTable s1-x"},
			wantErr:     "create table Table: throttled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAWS{createTable: tt.createTable}
			urls, err := stack.Provision(context.Background(), f, f, res)
			if !slices.Equal(f.calls, tt.wantCalls) {
				t.Errorf("calls: got %q, want %q", f.calls, tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Provision: %v", err)
			}
			if got, want := urls["Queue"], "http://127.0.0.1:1/123456789012/s1-Queue"; got != want {
				t.Errorf("urls[Queue]: got %q, want %q", got, want)
			}
		})
	}

	t.Run("teardown joins errors", func(t *testing.T) {
		f := &fakeAWS{deleteErrors: true}
		err := stack.Teardown(context.Background(), f, f, res, map[string]string{"Queue": "http://127.0.0.1:1/q1", "Dlq": "http://127.0.0.1:1/q2"})
		if err == nil {
			t.Fatal("got nil, want the joined delete errors")
		}
		if got, want := strings.Count(err.Error(), "boom"), 3; got != want {
			t.Errorf("got %d errors in %q, want %d (one table, two queues)", got, err, want)
		}
		if got, want := len(f.calls), 3; got != want {
			t.Errorf("got %d calls %q, want %d: a failed delete must not stop the others", got, f.calls, want)
		}
	})
}

func TestProvisionOrdersDeadLetterChains(t *testing.T) {
	tests := []struct {
		name    string
		queues  []stack.Queue
		want    string
		wantErr bool
	}{
		{
			name: "A redrives to B, B to C, listed A B C",
			queues: []stack.Queue{
				{LogicalID: "A", Name: "a", DeadLetterQueue: "B"},
				{LogicalID: "B", Name: "b", DeadLetterQueue: "C"},
				{LogicalID: "C", Name: "c"},
			},
			want: "[CreateQueue c CreateQueue b CreateQueue a]",
		},
		{
			name:    "cycle",
			queues:  []stack.Queue{{LogicalID: "A", Name: "a", DeadLetterQueue: "B"}, {LogicalID: "B", Name: "b", DeadLetterQueue: "A"}},
			wantErr: true,
		},
		{
			name:    "dead-letter queue not in the template",
			queues:  []stack.Queue{{LogicalID: "A", Name: "a", DeadLetterQueue: "Elsewhere"}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAWS{}
			_, err := stack.Provision(context.Background(), f, f, &stack.Resolved{Queues: tt.queues})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && fmt.Sprint(f.calls) != tt.want {
				t.Errorf("calls: got %v, want %s", f.calls, tt.want)
			}
		})
	}
}
