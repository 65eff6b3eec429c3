package localrun_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/infra/devjwt"
	"privacycore/infra/emulator"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/shared/wire"
)

// workerTemplate declares what the next features add to template.yaml, in
// small: queues with dead-letter queues (maxReceiveCount 2, so a failing
// message is dead-lettered on its second failure), a consumer that reports
// partial batch failures, one that does not, two schedules and a route.
// The visibility timeout is long, so a redelivery within a test is the
// runner's RetryDelay at work.
const workerTemplate = `
Parameters:
  JwtIssuer:
    Type: String
    Default: https://issuer.example
  JwtAudience:
    Type: String
    Default: worker-audience
Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDeadLetterQueue.Arn
        maxReceiveCount: 2
  WorkDeadLetterQueue:
    Type: AWS::SQS::Queue
  PlainQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt PlainDeadLetterQueue.Arn
        maxReceiveCount: 2
  PlainDeadLetterQueue:
    Type: AWS::SQS::Queue
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          QUEUE_ARN: !GetAtt WorkQueue.Arn
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  PlainWorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Plain:
          Type: SQS
          Properties:
            Queue: !GetAtt PlainQueue.Arn
            BatchSize: 25
  SweeperFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Sweep:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
            ScheduleExpressionTimezone: Europe/Oslo
  FailingSweeperFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Hourly:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Hello:
          Type: HttpApi
          Properties:
            Method: GET
            Path: /hello
            Auth:
              Authorizer: NONE
`

// delivery is one message as a consumer received it.
type delivery struct {
	Call      int
	RequestID string
	Record    events.SQSMessage
}

// consumerFake is an SQS consumer that records what it receives and
// answers with respond (nil: success).
type consumerFake struct {
	respond func(call int, ev events.SQSEvent) (events.SQSEventResponse, error)
	env     wire.Env

	mu         sync.Mutex
	calls      int
	deliveries []delivery
}

func (c *consumerFake) build(env wire.Env) (wire.SQSHandler, error) {
	c.env = env
	return c.handle, nil
}

func (c *consumerFake) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var id string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	c.mu.Lock()
	call := c.calls
	c.calls++
	for _, r := range ev.Records {
		c.deliveries = append(c.deliveries, delivery{Call: call, RequestID: id, Record: r})
	}
	c.mu.Unlock()
	if c.respond == nil {
		return events.SQSEventResponse{}, nil
	}
	return c.respond(call, ev)
}

func (c *consumerFake) callCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *consumerFake) all() []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.deliveries)
}

// receiveCounts maps each body to the ApproximateReceiveCount of each of
// its deliveries, in order.
func (c *consumerFake) receiveCounts() map[string][]string {
	out := map[string][]string{}
	for _, d := range c.all() {
		out[d.Record.Body] = append(out[d.Record.Body], d.Record.Attributes["ApproximateReceiveCount"])
	}
	return out
}

// failBody reports the messages with this body as failed.
func failBody(body string) func(int, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(_ int, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var r events.SQSEventResponse
		for _, m := range ev.Records {
			if m.Body == body {
				r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return r, nil
	}
}

// scheduleFake is a scheduled function that records its runs.
type scheduleFake struct {
	err error
	env wire.Env

	mu   sync.Mutex
	runs []scheduleRun
}

type scheduleRun struct {
	RequestID string
	Now       time.Time // env.Now() during the run
}

func (s *scheduleFake) build(env wire.Env) (wire.ScheduleHandler, error) {
	s.env = env
	return func(ctx context.Context) (wire.ScheduleResult, error) {
		var id string
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			id = lc.AwsRequestID
		}
		s.mu.Lock()
		s.runs = append(s.runs, scheduleRun{RequestID: id, Now: env.Now()})
		n := len(s.runs)
		s.mu.Unlock()
		return wire.ScheduleResult{"run": n}, s.err
	}, nil
}

func (s *scheduleFake) all() []scheduleRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// syncBuffer is a bytes.Buffer safe for the runner's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// records returns the JSON log records with this message.
func (b *syncBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.b.Bytes()))
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("log is not JSON lines: %v", err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// fixture is workerTemplate provisioned on the shared emulator with a
// runner over fakes.
type fixture struct {
	local    *stack.Local
	runner   *localrun.Runner
	clock    *localrun.Clock
	log      *syncBuffer
	work     *consumerFake // WorkerFunction (ReportBatchItemFailures)
	plain    *consumerFake // PlainWorkerFunction
	sweep    *scheduleFake // SweeperFunction
	failing  *scheduleFake // FailingSweeperFunction
	helloEnv wire.Env
}

// newFixture provisions workerTemplate under a fresh stack name and builds
// a runner with RetryDelay; the stack is deleted when the test ends. The
// fakes' respond functions may be set until the pollers start.
func newFixture(t *testing.T, retryDelay time.Duration) *fixture {
	t.Helper()
	tmpl, err := stack.Parse([]byte(workerTemplate))
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	local, err := stack.Up(ctx, tmpl, emulator.Shared(t), "w"+hex.EncodeToString(b[:]), nil)
	if err != nil {
		t.Fatalf("stack.Up: %v", err)
	}
	t.Cleanup(func() {
		if err := local.Down(context.Background()); err != nil {
			t.Logf("teardown: %v", err)
		}
	})
	f := &fixture{
		local: local, clock: localrun.NewClock(nil), log: &syncBuffer{},
		work: &consumerFake{}, plain: &consumerFake{}, sweep: &scheduleFake{}, failing: &scheduleFake{err: errors.New("boom: the sweep failed")},
	}
	reg := map[string]localrun.Builder{
		"WorkerFunction":         localrun.SQS(f.work.build),
		"PlainWorkerFunction":    localrun.SQS(f.plain.build),
		"SweeperFunction":        localrun.Schedule(f.sweep.build),
		"FailingSweeperFunction": localrun.Schedule(f.failing.build),
		"HelloFunction": localrun.HTTP(func(env wire.Env) (wire.HTTPHandler, error) {
			f.helloEnv = env
			return func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "hello"}, nil
			}, nil
		}),
	}
	v := devjwt.Verifier{Issuer: tmpl.Param("JwtIssuer", nil), Audience: tmpl.Param("JwtAudience", nil), Now: time.Now}
	log := slog.New(slog.NewJSONHandler(f.log, nil))
	f.runner, err = localrun.New(local, reg, v, io.Discard, log, f.clock)
	if err != nil {
		t.Fatalf("localrun.New: %v", err)
	}
	f.runner.RetryDelay = retryDelay
	t.Cleanup(func() {
		if t.Failed() {
			f.log.mu.Lock()
			defer f.log.mu.Unlock()
			t.Logf("runner log:\n%s", f.log.b.String())
		}
	})
	return f
}

// start starts the pollers; they are stopped, and waited for, when the test ends.
func (f *fixture) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.runner.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		f.runner.Wait()
	})
}

func (f *fixture) queueURL(t *testing.T, logicalID string) string {
	t.Helper()
	u, ok := f.local.QueueURLs[logicalID]
	if !ok {
		t.Fatalf("no queue %s", logicalID)
	}
	return u
}

func (f *fixture) queueName(t *testing.T, logicalID string) string {
	t.Helper()
	for _, q := range f.local.Resolved.Queues {
		if q.LogicalID == logicalID {
			return q.Name
		}
	}
	t.Fatalf("no queue %s", logicalID)
	return ""
}

// send puts messages with these bodies on a queue in one batch and returns
// their message ids.
func (f *fixture) send(t *testing.T, queue string, bodies ...string) []string {
	t.Helper()
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(f.queueURL(t, queue))}
	for i, b := range bodies {
		in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
	}
	out, err := f.local.SQS.SendMessageBatch(context.Background(), in)
	if err != nil {
		t.Fatalf("send to %s: %v", queue, err)
	}
	if len(out.Failed) > 0 {
		t.Fatalf("send to %s: %d failed", queue, len(out.Failed))
	}
	ids := make([]string, len(bodies))
	for _, e := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(e.Id))
		ids[i] = aws.ToString(e.MessageId)
	}
	return ids
}

// depth returns the messages on a queue: visible, in flight and delayed.
func (f *fixture) depth(t *testing.T, queue string) (visible, inFlight, delayed int) {
	t.Helper()
	out, err := f.local.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(f.queueURL(t, queue)),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes of %s: %v", queue, err)
	}
	n := func(a types.QueueAttributeName) int {
		v, err := strconv.Atoi(out.Attributes[string(a)])
		if err != nil {
			t.Fatalf("queue attribute %s of %s: %q", a, queue, out.Attributes[string(a)])
		}
		return v
	}
	return n(types.QueueAttributeNameApproximateNumberOfMessages),
		n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)
}

func (f *fixture) empty(t *testing.T, queue string) bool {
	v, i, d := f.depth(t, queue)
	return v+i+d == 0
}

// waitEmpty waits until a queue is empty, which is final when no one sends
// to it: nothing is left to deliver or to dead-letter. Emptiness must be
// seen three times in a row: moto computes the counts one after another,
// so a message whose visibility timeout ends between two of them is
// counted in neither, and a message being dead-lettered is briefly on no
// queue.
func (f *fixture) waitEmpty(t *testing.T, queue string) {
	t.Helper()
	seen := 0
	waitUntil(t, settleTimeout, queue+" to be empty", func() bool {
		if f.empty(t, queue) {
			seen++
		} else {
			seen = 0
		}
		return seen == 3
	})
}

// receiveAll empties a queue that no poller reads (a dead-letter queue)
// and returns its bodies, sorted.
func (f *fixture) receiveAll(t *testing.T, queue string) []string {
	t.Helper()
	bodies := []string{}
	for {
		out, err := f.local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(f.queueURL(t, queue)), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", queue, err)
		}
		if len(out.Messages) == 0 {
			slices.Sort(bodies)
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
