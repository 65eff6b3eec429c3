package localrun_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/infra/devjwt"
	"privacycore/infra/emulator"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/shared/wire"
)

// TestNewChecksHandlers checks that New refuses a handler that does not fit
// its function's events, and a template the runner cannot serve. Nothing
// here reaches the emulator.
func TestNewChecksHandlers(t *testing.T) {
	sqsH := localrun.SQS(func(wire.Env) (wire.SQSHandler, error) {
		return func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, nil
		}, nil
	})
	schedH := localrun.Schedule(func(wire.Env) (wire.ScheduleHandler, error) {
		return func(context.Context) (wire.ScheduleResult, error) { return nil, nil }, nil
	})
	httpH := localrun.HTTP(func(wire.Env) (wire.HTTPHandler, error) {
		return func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, nil
		}, nil
	})
	const queue = `
  Q:
    Type: AWS::SQS::Queue
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
`
	fn := func(events string) string {
		return "Resources:" + queue + `
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
` + events
	}
	sqsEvent := `        E:
          Type: SQS
          Properties: {Queue: !GetAtt Q.Arn}
`
	schedEvent := `        S:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 day)}
`
	routeEvent := `        R:
          Type: HttpApi
          Properties: {Method: GET, Path: /r}
`
	tests := []struct {
		name     string
		template string
		builder  localrun.Builder
		wantErr  string // "" for success
	}{
		{"SQS consumer", fn(sqsEvent), sqsH, ""},
		{"scheduled function", fn(schedEvent), schedH, ""},
		{"SQS events, HTTP handler", fn(sqsEvent), httpH, "function F has SQS events but its handler is"},
		{"SQS events, schedule handler", fn(sqsEvent), schedH, "function F has SQS events but its handler is"},
		{"schedule, SQS handler", fn(schedEvent), sqsH, "function F has Schedule events but its handler is"},
		{"route, SQS handler", fn(routeEvent), sqsH, "function F has HttpApi events but its handler is"},
		{"SQS and schedule on one function", fn(sqsEvent + schedEvent), sqsH, "has Schedule events but its handler is"},
		{"SQS event on a table", fn("        E:\n          Type: SQS\n          Properties: {Queue: !GetAtt T.Arn}\n"), sqsH,
			"function F, event E: T is not an AWS::SQS::Queue of the template"},
		{"route under /_local/", fn("        R:\n          Type: HttpApi\n          Properties: {Method: GET, Path: /_local/clock}\n"), httpH,
			"route GET /_local/clock is under /_local/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := stack.Parse([]byte(tt.template))
			if err != nil {
				t.Fatal(err)
			}
			srv := &emulator.Server{Endpoint: "http://127.0.0.1:9"}
			res, err := tmpl.Resolve(stack.Names{StackName: "s", Region: emulator.Region, AccountID: emulator.AccountID, QueueURL: srv.QueueURL})
			if err != nil {
				t.Fatal(err)
			}
			local := &stack.Local{Server: srv, Resolved: res, QueueURLs: map[string]string{"Q": srv.QueueURL("s-Q")}}
			_, err = localrun.New(local, map[string]localrun.Builder{"F": tt.builder}, devjwt.Verifier{Now: time.Now}, io.Discard, discard, nil)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name       string
		retryDelay time.Duration
		startTwice bool
		wantErr    string
	}{
		{"negative retry delay", -time.Second, false, "RetryDelay -1s is outside"},
		{"retry delay over 12h", 13 * time.Hour, false, "RetryDelay 13h0m0s is outside"},
		{"twice", time.Second, true, "already started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.retryDelay)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(func() { cancel(); f.runner.Wait() })
			err := f.runner.Start(ctx)
			if tt.startTwice {
				if err != nil {
					t.Fatalf("first Start: %v", err)
				}
				err = f.runner.Start(ctx)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestShutdown checks that ending the context stops Serve, the HTTP server
// and every poller, and that a batch in flight is still settled.
func TestShutdown(t *testing.T) {
	f := newFixture(t, time.Second)
	release := make(chan struct{})
	inFlight := make(chan struct{}, 1)
	f.work.respond = func(call int, ev events.SQSEvent) (events.SQSEventResponse, error) {
		if ev.Records[0].Body == "slow" {
			inFlight <- struct{}{}
			<-release
		}
		return events.SQSEventResponse{}, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- f.runner.Serve(ctx, l) }()

	// Serve starts the pollers.
	f.send(t, "WorkQueue", "before")
	waitUntil(t, settleTimeout, "the message sent before shutdown to be handled", func() bool { return f.work.callCount() == 1 })

	// A batch in flight at shutdown is still acknowledged.
	f.send(t, "WorkQueue", "slow")
	select {
	case <-inFlight:
	case <-time.After(settleTimeout):
		t.Fatal("the slow message was not delivered")
	}
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a batch was in flight; want it to wait for the poller", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of the context ending")
	}
	calls := f.work.callCount()
	if calls != 2 {
		t.Fatalf("handler calls before shutdown: got %d, want 2", calls)
	}
	if !f.empty(t, "WorkQueue") {
		v, i, d := f.depth(t, "WorkQueue")
		t.Errorf("WorkQueue after shutdown: %d visible, %d in flight, %d delayed; want the in-flight batch deleted", v, i, d)
	}

	// Nothing polls any more: a new message stays on the queue, unreceived.
	f.send(t, "WorkQueue", "after")
	time.Sleep(2500 * time.Millisecond) // more than a long poll and a retry delay
	if got := f.work.callCount(); got != calls {
		t.Errorf("handler calls after shutdown: got %d, want %d", got, calls)
	}
	if v, i, _ := f.depth(t, "WorkQueue"); v != 1 || i != 0 {
		t.Errorf("WorkQueue after shutdown: got %d visible and %d in flight, want 1 and 0 (no poller left)", v, i)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("dial %s after shutdown: connected, want the server closed", addr)
	}
}
