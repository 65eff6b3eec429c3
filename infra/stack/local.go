package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/emulator"
	"privacycore/shared/platform/awsenv"
)

// Local is the template's tables and queues, created on an emulator.
type Local struct {
	Server    *emulator.Server
	AWS       aws.Config
	DynamoDB  *dynamodb.Client
	SQS       *sqs.Client
	Resolved  *Resolved
	QueueURLs map[string]string // by logical id
}

// Up resolves the template under stackName (which prefixes every generated
// name, so parallel stacks never share a table) and creates its tables and
// queues on srv.
func Up(ctx context.Context, t *Template, srv *emulator.Server, stackName string, params map[string]string) (*Local, error) {
	awsEnv := srv.Env()
	cfg, err := awsenv.Config(func(k string) string { return awsEnv[k] })
	if err != nil {
		return nil, err
	}
	res, err := t.Resolve(Names{
		StackName: stackName, Region: emulator.Region, AccountID: emulator.AccountID,
		Params: params, QueueURL: srv.QueueURL,
	})
	if err != nil {
		return nil, err
	}
	l := &Local{Server: srv, AWS: cfg, DynamoDB: dynamodb.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), Resolved: res}
	l.QueueURLs, err = Provision(ctx, l.DynamoDB, l.SQS, res)
	if err != nil {
		return nil, err
	}
	for _, q := range res.Queues {
		if got, want := l.QueueURLs[q.LogicalID], srv.QueueURL(q.Name); got != want {
			return nil, fmt.Errorf("queue %s: emulator URL %s, expected %s", q.LogicalID, got, want)
		}
	}
	return l, nil
}

// Down deletes the stack's tables and queues.
func (l *Local) Down(ctx context.Context) error {
	return Teardown(ctx, l.DynamoDB, l.SQS, l.Resolved, l.QueueURLs)
}

// Function returns a resolved function by logical id.
func (l *Local) Function(id string) (Function, bool) {
	for _, f := range l.Resolved.Functions {
		if f.LogicalID == id {
			return f, true
		}
	}
	return Function{}, false
}

// Table returns the local name of a table by logical id.
func (l *Local) Table(id string) string {
	for _, t := range l.Resolved.Tables {
		if t.LogicalID == id {
			return t.Name
		}
	}
	panic("stack: no table " + id)
}

// Getenv returns the environment a function sees: the template's variables
// for it, over the variables that point the SDK at the emulator.
func (l *Local) Getenv(f Function) func(string) string {
	env := l.Server.Env()
	// As Lambda does; logs and the ColdStart metric name the function by it.
	env["AWS_LAMBDA_FUNCTION_NAME"] = f.LogicalID
	for k, v := range f.Env {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// FindTemplate returns the path of template.yaml in the current directory or
// the nearest parent, so tests in any package find the one template.
func FindTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("template.yaml not found in any parent directory")
		}
		dir = parent
	}
}
