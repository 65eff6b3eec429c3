package profileapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/apispec"
	"privacycore/infra/emulator"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// Synthetic people. kari is the pid in the events/profile fixtures.
const (
	kari  = "14838500073" // adult, born 1985
	ola   = "01879000099" // adult; dies in events/notices/death.json
	child = "05851250095" // born 2012; kari's child in events/notices/parental-responsibility-set.json
)

var day0 = time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)

type fixture struct {
	t       testing.TB
	local   *stack.Local
	clock   *testenv.Clock
	logs    *syncBuffer
	keys    *personkey.Keyer
	profile wire.HTTPHandler
	consent wire.HTTPHandler
	msgSeq  int
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, local: testenv.New(t), clock: testenv.NewClock(day0, time.Millisecond), logs: &syncBuffer{}}
	f.keys, _ = personkey.New([]byte(personkey.DevSecret))
	var err error
	if f.profile, err = wire.ProfileAPI(f.env("ProfileFunction")); err != nil {
		t.Fatal(err)
	}
	if f.consent, err = wire.ConsentAPI(f.env("ConsentFunction")); err != nil {
		t.Fatal(err)
	}
	return f
}

// env is what the function gets from template.yaml, as in `make run`.
func (f *fixture) env(fn string) wire.Env {
	f.t.Helper()
	def, ok := f.local.Function(fn)
	if !ok {
		f.t.Fatalf("template has no %s", fn)
	}
	return wire.Env{AWS: f.local.AWS, Getenv: f.local.Getenv(def), Log: f.logs, Now: f.clock.Now}
}

type response struct {
	Status  int
	Headers map[string]string
	Body    map[string]any
	Raw     string
}

// call sends ev to h and checks the exchange against infra/openapi.yaml.
func (f *fixture) call(h wire.HTTPHandler, ev events.APIGatewayV2HTTPRequest) response {
	f.t.Helper()
	r := f.callUnchecked(h, ev)
	apispec.Check(f.t, ev, events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: r.Headers, Body: r.Raw})
	return r
}

// callUnchecked is call without the contract check, for the fuzz target:
// Go's decoder reads a JSON null as "not given", which the document does
// not allow, so arbitrary bodies would trip the check on that alone.
func (f *fixture) callUnchecked(h wire.HTTPHandler, ev events.APIGatewayV2HTTPRequest) response {
	f.t.Helper()
	resp, err := h(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("handler returned error %v (handlers must answer with a response)", err)
	}
	r := response{Status: resp.StatusCode, Headers: resp.Headers, Raw: resp.Body}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &r.Body); err != nil {
			f.t.Fatalf("response body is not a JSON object: %q", resp.Body)
		}
	}
	return r
}

// do calls the profile function with a fixture from events/profile.
func (f *fixture) do(name string, opts ...func(*events.APIGatewayV2HTTPRequest)) response {
	f.t.Helper()
	return f.call(f.profile, f.event(name, opts...))
}

func (f *fixture) event(name string, opts ...func(*events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPRequest {
	ev := testenv.HTTPEvent(f.t, "profile/"+name+".json")
	for _, o := range opts {
		o(&ev)
	}
	return ev
}

// give gives consent at the Basic level for pid.
func (f *fixture) give(pid string) {
	f.t.Helper()
	ev := testenv.HTTPEvent(f.t, "consent/give.json")
	withPID(pid)(&ev)
	if r := f.call(f.consent, ev); r.Status != 200 {
		f.t.Fatalf("give consent: %d %s", r.Status, r.Raw)
	}
}

// withdraw withdraws pid's consent through the consent function.
func (f *fixture) withdraw(pid string) response {
	f.t.Helper()
	ev := testenv.HTTPEvent(f.t, "consent/withdraw.json")
	withPID(pid)(&ev)
	return f.call(f.consent, ev)
}

func withBody(b string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.Body = b }
}

func withHeader(k, v string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.Headers[k] = v }
}

func withPID(pid string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer.JWT.Claims["pid"] = pid }
}

// withID puts id in the path, as API Gateway does for {id}.
func withID(id string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) {
		e.PathParameters = map[string]string{"id": id}
		e.RawPath = strings.Replace(e.RouteKey[strings.IndexByte(e.RouteKey, ' ')+1:], "{id}", id, 1)
		e.RequestContext.HTTP.Path = e.RawPath
	}
}

func (f *fixture) pk(pid string) string {
	f.t.Helper()
	id, err := nin.Parse(pid)
	if err != nil {
		f.t.Fatal(err)
	}
	return dynamo.PersonPK(f.keys.Key(id))
}

// items returns a person's partition, attributes and all, in sort-key order.
func (f *fixture) items(pk string) []map[string]any {
	f.t.Helper()
	out, err := f.local.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(f.local.Table("PrivacyTable")),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var items []map[string]any
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		f.t.Fatal(err)
	}
	return items
}

// sortKeys lists the sort keys of a person's partition.
func (f *fixture) sortKeys(pk string) []string {
	var sks []string
	for _, it := range f.items(pk) {
		sks = append(sks, it["sk"].(string))
	}
	return sks
}

// kinds counts a partition's items by the first segment of their sort key.
func kinds(sks []string) map[string]int {
	m := map[string]int{}
	for _, sk := range sks {
		head, _, _ := strings.Cut(sk, "#")
		m[head]++
	}
	return m
}

// deliver hands a notice fixture to the notice worker, stamped with the
// current test time, as Lambda's SQS poller would.
func (f *fixture) deliver(h wire.SQSHandler, fixture string) {
	f.t.Helper()
	var ev events.SQSEvent
	testenv.LoadEvent(f.t, "notices/"+fixture+".json", &ev)
	for i := range ev.Records {
		f.msgSeq++
		ev.Records[i].MessageId = fmt.Sprintf("%s-%d", ev.Records[i].MessageId, f.msgSeq)
		ev.Records[i].Attributes["SentTimestamp"] = strconv.FormatInt(f.clock.Now().UnixMilli(), 10)
	}
	resp, err := h(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) > 0 {
		f.t.Fatalf("notice %s: %v %v\nlogs:\n%s", fixture, err, resp.BatchItemFailures, f.logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
