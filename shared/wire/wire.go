// Package wire builds each function's handler from its environment. The
// Lambda mains and the local runner call the same constructors, so the code
// that runs locally is the code that runs in AWS.
package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/shared/domain"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/registerfeed"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/consentapi"
	"privacycore/shared/platform/awsenv"
	"privacycore/shared/platform/metrics"
	"privacycore/shared/platform/obs"
	"privacycore/shared/registers/persontjenesten"
	"privacycore/shared/sqs/queue"
	"privacycore/shared/sqs/workers"
)

// HTTPHandler is the signature of every API Gateway HTTP API function.
type HTTPHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// SQSHandler is the signature of every SQS consumer. Consumers report
// partial batch failures (FunctionResponseTypes: ReportBatchItemFailures).
type SQSHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ScheduleHandler is the signature of every scheduled function; the
// schedule's payload carries nothing the handler needs (time comes from Now).
// It returns what the run did: Lambda gives it back as the invocation's JSON
// result, and the local runner's trigger route (make sweep) answers it.
type ScheduleHandler = func(context.Context) (ScheduleResult, error)

// ScheduleResult is what a scheduled run did, as named counts
// ({"jobsQueued":3,"overdueJobs":0}); with an error, what it did before it
// failed.
type ScheduleResult map[string]int

// Env is what a function is built from.
type Env struct {
	AWS    aws.Config
	Getenv func(string) string
	Log    io.Writer
	Now    func() time.Time
}

// Start is the whole of a function's main: it reads the AWS configuration
// from the Lambda environment, builds the handler and starts the runtime.
func Start[H any](build func(Env) (H, error)) {
	log := obs.NewFunctionLogger(os.Stdout, obs.ParseLevel(os.Getenv("LOG_LEVEL")), obs.FunctionFromEnv(os.Getenv))
	cfg, err := awsenv.Config(os.Getenv)
	if err != nil {
		log.Error("read AWS config", "err", err)
		os.Exit(1)
	}
	env := Env{AWS: cfg, Getenv: os.Getenv, Log: os.Stdout, Now: time.Now}
	h, err := build(env)
	if err != nil {
		log.Error("build handler", "err", err)
		os.Exit(1)
	}
	lambda.Start(Observe(env, h))
}

// Observe wraps a built handler with what every function gets without its
// constructor knowing: a ColdStart data point on its first invocation in
// the process (Function = AWS_LAMBDA_FUNCTION_NAME), and for an HTTP
// handler a count and time of every request per route
// (metrics.Emitter.HTTP). Start and the local runner both call it, so it
// covers every function in template.yaml.
func Observe[H any](env Env, h H) H {
	m := env.Metrics()
	fn := obs.FunctionFromEnv(env.Getenv)
	cold := func(ctx context.Context) {
		if lc, ok := lambdacontext.FromContext(ctx); ok && obs.ColdStart(fn.Name, lc.AwsRequestID) {
			name := fn.Name
			if name == "" {
				name = "unnamed"
			}
			m.Cold(ctx, name)
		}
	}
	switch hh := any(h).(type) {
	case HTTPHandler:
		counted := m.HTTP(hh)
		return any(HTTPHandler(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			cold(ctx)
			return counted(ctx, req)
		})).(H)
	case SQSHandler:
		return any(SQSHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			cold(ctx)
			return hh(ctx, ev)
		})).(H)
	case ScheduleHandler:
		return any(ScheduleHandler(func(ctx context.Context) (ScheduleResult, error) {
			cold(ctx)
			return hh(ctx)
		})).(H)
	}
	return h
}

// Metrics returns the function's metrics emitter: CloudWatch Embedded Metric
// Format lines on the function's log writer, under METRICS_NAMESPACE, with
// the Service dimension POWERTOOLS_SERVICE_NAME.
func (e Env) Metrics() *metrics.Emitter {
	return metrics.New(e.Log, e.Getenv("METRICS_NAMESPACE"), e.logger()).WithService(obs.FunctionFromEnv(e.Getenv).Service)
}

// ConsentAPI builds the consent function.
func ConsentAPI(env Env) (HTTPHandler, error) {
	log := env.logger()
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	svc, err := env.withdrawingConsentService(store)
	if err != nil {
		return nil, err
	}
	reg, err := env.register()
	if err != nil {
		return nil, err
	}
	svc.Register = persontjenesten.Standing{Client: reg}
	noticesURL, err := env.require("NOTICES_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	// A parent who consents brings the children the register shows, through the notices.
	svc.Relations = registerfeed.ChildImporter{Outbox: queue.FeedOutbox{SQS: sqs.NewFromConfig(env.AWS), NoticesURL: noticesURL}, Now: env.Now}
	svc.OnRegisterError = func(ctx context.Context, err error) {
		log.WarnContext(ctx, "population register look-up failed; consent not given (register_unavailable)", "err", err)
	}
	h := consentapi.New(svc, keys, log)
	h.Metrics = env.Metrics()
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	return env.checkCaller(rules, h.Handle), nil
}

// NoticeWorker builds the population-register notice consumer.
func NoticeWorker(env Env) (SQSHandler, error) {
	log := env.logger()
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	url, err := env.require("NOTICES_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	p := &notices.Processor{
		Keys: keys, Ledger: store.Ledger, Deaths: store.Deaths, DeathNotices: store.DeathNotices,
		Relations: store.Relations, Mover: store.Mover, IDs: store.IDs,
		Requeue: queue.Single{SQS: sqs.NewFromConfig(env.AWS), QueueURL: url},
		Now:     env.Now, NewID: domain.NewID, Log: log,
	}
	m := env.Metrics()
	return m.SQS("notice-worker", (&workers.Notices{Processor: p, Log: log, Now: env.Now, Metrics: m}).Handle), nil
}

// Sweeper builds the scheduled function that queues due deletion jobs.
func Sweeper(env Env) (ScheduleHandler, error) {
	store, err := env.store()
	if err != nil {
		return nil, err
	}
	url, err := env.require("PURGE_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	s := &deletion.Sweeper{Jobs: store.Jobs, Queue: queue.Sender{SQS: sqs.NewFromConfig(env.AWS), QueueURL: url}, Now: env.Now, Log: env.logger()}
	m := env.Metrics()
	return func(ctx context.Context) (ScheduleResult, error) {
		queued, err := s.Sweep(ctx)
		m.Swept(ctx, queued)
		res := ScheduleResult{"jobsQueued": queued}
		// Count even after a failed sweep: the alarm needs the number most then.
		overdue, cerr := deletion.Overdue(ctx, store.Jobs, env.Now())
		if cerr != nil {
			return res, errors.Join(err, cerr)
		}
		m.Overdue(ctx, overdue)
		res["overdueJobs"] = overdue
		return res, err
	}, nil
}

// PurgeWorker builds the purge queue consumer.
func PurgeWorker(env Env) (SQSHandler, error) {
	log := env.logger()
	store, err := env.store()
	if err != nil {
		return nil, err
	}
	url, err := env.require("PURGE_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	slice, err := env.seconds("PURGE_SLICE_SECONDS", deletion.DefaultSlice)
	if err != nil {
		return nil, err
	}
	m := env.Metrics()
	p := &deletion.Purger{Jobs: store.Jobs, Receipts: store.Consent, Eraser: store.Eraser, Deaths: store.Deaths, Now: env.Now, Log: log, Metrics: m,
		Continue: queue.Sender{SQS: sqs.NewFromConfig(env.AWS), QueueURL: url}, Slice: slice}
	return m.SQS("purge-worker", (&workers.Purges{Purger: p, Log: log}).Handle), nil
}

// consentService is the one consent service every function that changes
// consent uses.
func (e Env) consentService(s *dynamo.Stores) *consent.Service {
	return &consent.Service{Store: s.Consent, Eraser: s.Eraser, Grants: s.Grants, Deaths: s.Deaths, Now: e.Now, NewID: domain.NewID}
}

// withdrawingConsentService is the consent service of the functions that
// withdraw with an erase (the API, paper forms): the request erases for
// WITHDRAW_BUDGET_MS at most and hands the rest to the purge queue
// (PURGE_QUEUE_URL) as a deletion job.
func (e Env) withdrawingConsentService(s *dynamo.Stores) (*consent.Service, error) {
	url, err := e.require("PURGE_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	budget := consent.DefaultBudget
	if v := e.Getenv("WITHDRAW_BUDGET_MS"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 1 || ms > 25_000 {
			return nil, fmt.Errorf("WITHDRAW_BUDGET_MS must be a whole number from 1 to 25000, not %q", v)
		}
		budget = time.Duration(ms) * time.Millisecond
	}
	svc := e.consentService(s)
	svc.Background = &deletion.Handoff{Jobs: s.Jobs, Queue: queue.Sender{SQS: sqs.NewFromConfig(e.AWS), QueueURL: url}, Now: e.Now, Log: e.logger()}
	svc.Budget = budget
	return svc, nil
}

// seconds reads a duration in whole seconds from the environment.
func (e Env) seconds(name string, def time.Duration) (time.Duration, error) {
	v := e.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 900 {
		return 0, fmt.Errorf("%s must be a whole number of seconds from 1 to 900, not %q", name, v)
	}
	return time.Duration(n) * time.Second, nil
}

// keysAndStore is what every function that handles person ids needs.
func (e Env) keysAndStore() (*personkey.Keyer, *dynamo.Stores, error) {
	keys, err := e.keyer()
	if err != nil {
		return nil, nil, err
	}
	store, err := e.store()
	if err != nil {
		return nil, nil, err
	}
	return keys, store, nil
}

// store returns the stores on the function's table.
func (e Env) store() (*dynamo.Stores, error) {
	table, err := e.require("TABLE_NAME")
	if err != nil {
		return nil, err
	}
	s := dynamo.Open(e.AWS, table, e.Now)
	if v := e.Getenv("ERASE_PARALLELISM"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("ERASE_PARALLELISM must be a whole number from 1 to 64, not %q", v)
		}
		s.Table.Parallel = n
	}
	return s, nil
}

func (e Env) logger() *slog.Logger {
	return obs.NewFunctionLogger(e.Log, obs.ParseLevel(e.Getenv("LOG_LEVEL")), obs.FunctionFromEnv(e.Getenv))
}

func (e Env) require(name string) (string, error) {
	v := e.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return v, nil
}
