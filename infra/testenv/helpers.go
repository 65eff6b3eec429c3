package testenv

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/emulator"
	"privacycore/infra/stack"
)

// Main runs a package's tests and then stops the shared emulator; call it
// from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// Buffer is a log sink that handlers on several goroutines can share.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SortKeys lists the sort keys of one partition of the stack's table,
// strongly consistent, in key order.
func SortKeys(t testing.TB, l *stack.Local, pk string) []string {
	t.Helper()
	var sks []string
	p := dynamodb.NewQueryPaginator(l.DynamoDB, &dynamodb.QueryInput{
		TableName: aws.String(l.Table("PrivacyTable")), KeyConditionExpression: aws.String("pk = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
		}
	}
	return sks
}
