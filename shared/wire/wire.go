// Package wire builds each function's handler from its environment. The
// Lambda mains and the local runner call the same constructors, so the code
// that runs locally is the code that runs in AWS.
package wire

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"privacycore/shared/awsenv"
	"privacycore/shared/consent"
	"privacycore/shared/consentapi"
	"privacycore/shared/domain"
	"privacycore/shared/dynamo"
	"privacycore/shared/obs"
	"privacycore/shared/personkey"
)

// HTTPHandler is the signature of every API Gateway HTTP API function.
type HTTPHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// SQSHandler is the signature of every SQS consumer. Consumers report
// partial batch failures (FunctionResponseTypes: ReportBatchItemFailures).
type SQSHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ScheduleHandler is the signature of every scheduled function; the
// schedule's payload carries nothing the handler needs (time comes from Now).
type ScheduleHandler = func(context.Context) error

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
	log := obs.NewLogger(os.Stdout, obs.ParseLevel(os.Getenv("LOG_LEVEL")))
	cfg, err := awsenv.Config(os.Getenv)
	if err != nil {
		log.Error("read AWS config", "err", err)
		os.Exit(1)
	}
	h, err := build(Env{AWS: cfg, Getenv: os.Getenv, Log: os.Stdout, Now: time.Now})
	if err != nil {
		log.Error("build handler", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// ConsentAPI builds the consent function.
func ConsentAPI(env Env) (HTTPHandler, error) {
	log := env.logger()
	keys, err := env.keyer()
	if err != nil {
		return nil, err
	}
	table, err := env.require("TABLE_NAME")
	if err != nil {
		return nil, err
	}
	store := dynamo.NewStore(dynamodb.NewFromConfig(env.AWS), table, env.Now)
	svc := &consent.Service{Store: store, Eraser: store, Grants: store, Now: env.Now, NewID: domain.NewID}
	return consentapi.New(svc, keys, log).Handle, nil
}

func (e Env) logger() *slog.Logger {
	return obs.NewLogger(e.Log, obs.ParseLevel(e.Getenv("LOG_LEVEL")))
}

func (e Env) require(name string) (string, error) {
	v := e.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return v, nil
}

func (e Env) keyer() (*personkey.Keyer, error) {
	secret, err := e.require("PERSON_KEY_SECRET")
	if err != nil {
		return nil, err
	}
	k, err := personkey.New([]byte(secret))
	if err != nil {
		return nil, fmt.Errorf("PERSON_KEY_SECRET: %w", err)
	}
	return k, nil
}
