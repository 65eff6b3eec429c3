package stack_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"privacycore/infra/localrun"
	"privacycore/infra/stack"
)

// testNames are the local names the unit tests resolve testdata/resolve.yaml with.
func testNames(params map[string]string) stack.Names {
	return stack.Names{
		StackName: "s1",
		Region:    "eu-north-1",
		AccountID: "123456789012",
		Params:    params,
		QueueURL:  func(name string) string { return "http://127.0.0.1:1/123456789012/" + name },
	}
}

func loadTestdata(t *testing.T, name string) *stack.Template {
	t.Helper()
	tmpl, err := stack.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return tmpl
}

func resolveTestdata(t *testing.T, params map[string]string) *stack.Resolved {
	t.Helper()
	res, err := loadTestdata(t, "resolve.yaml").Resolve(testNames(params))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return res
}

func TestResolveTestdata(t *testing.T) {
	res := resolveTestdata(t, map[string]string{"Greeting": "hei", "Secret": "s3cret"})
	if len(res.Tables) != 1 || len(res.Queues) != 3 || len(res.Functions) != 1 {
		t.Fatalf("got %d tables, %d queues, %d functions; want 1, 3, 1", len(res.Tables), len(res.Queues), len(res.Functions))
	}
	tb := res.Tables[0]
	dlq, queue, fifo := res.Queues[0], res.Queues[1], res.Queues[2]
	fn := res.Functions[0]

	const (
		queueURL = "http://127.0.0.1:1/123456789012/s1-Queue"
		fifoURL  = "http://127.0.0.1:1/123456789012/s1-Fifo.fifo"
		dlqArn   = "arn:aws:sqs:eu-north-1:123456789012:s1-Dlq"
	)
	tests := []struct {
		name      string
		got, want any
	}{
		// The table: explicit name from !Sub, keys, attributes, GSI, TTL.
		{"Tables[0].LogicalID", tb.LogicalID, "Table"},
		{"Tables[0].Name (!Sub ${AWS::StackName}-x)", tb.Name, "s1-x"},
		{"Tables[0].HashKey", tb.HashKey, "pk"},
		{"Tables[0].RangeKey", tb.RangeKey, "sk"},
		{"Tables[0].Attributes", tb.Attributes, map[string]string{"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "N"}},
		{"Tables[0].GSIs", tb.GSIs, []stack.Index{{
			Name: "ByOwner", HashKey: "gsi1pk", RangeKey: "gsi1sk", ProjectionType: "INCLUDE", NonKeyAttrs: []string{"status", "level"},
		}}},
		{"Tables[0].TTLAttr", tb.TTLAttr, "expiresAt"},
		{"Tables[0].StreamsView", tb.StreamsView, ""},

		// Queues, in template order; the generated names are <stack>-<logical id>.
		{"Queues[0].LogicalID", dlq.LogicalID, "Dlq"},
		{"Queues[0].Name", dlq.Name, "s1-Dlq"},
		{"Queues[0].Attributes", dlq.Attributes, map[string]string{"MessageRetentionPeriod": "1209600"}},
		{"Queues[0].DeadLetterQueue", dlq.DeadLetterQueue, ""},
		{"Queues[1].LogicalID", queue.LogicalID, "Queue"},
		{"Queues[1].Name", queue.Name, "s1-Queue"},
		{"Queues[1].Attributes", queue.Attributes, map[string]string{
			"VisibilityTimeout": "60",
			"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqArn + `","maxReceiveCount":5}`,
		}},
		{"Queues[1].DeadLetterQueue", queue.DeadLetterQueue, "Dlq"},
		{"Queues[2].LogicalID", fifo.LogicalID, "Fifo"},
		{"Queues[2].Name (FIFO gets .fifo)", fifo.Name, "s1-Fifo.fifo"},
		{"Queues[2].Attributes", fifo.Attributes, map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}},
		{"Queues[2].DeadLetterQueue", fifo.DeadLetterQueue, ""},

		// The function's environment: Globals merged under the function's own variables.
		{"Functions[0].LogicalID", fn.LogicalID, "WorkFunction"},
		{"Env keys", slices.Sorted(maps.Keys(fn.Env)), []string{
			"DEBUG", "DLQ_NAME", "FIFO_URL", "GREETING", "LONG_SUB", "QUEUE_ARN", "QUEUE_URL", "RETRIES", "SECRET", "SHARED", "STAGE", "SUBBED", "TABLE_ARN", "TABLE_NAME",
		}},
		{"Env[RETRIES] (plain YAML int)", fn.Env["RETRIES"], "3"},
		{"Env[DEBUG] (plain YAML bool)", fn.Env["DEBUG"], "false"},
		{"Env[SHARED] (function wins over Globals)", fn.Env["SHARED"], "from-function"},
		{"Env[STAGE] (parameter default)", fn.Env["STAGE"], "dev"},
		{"Env[GREETING] (Globals, parameter override)", fn.Env["GREETING"], "hei"},
		{"Env[SECRET] (parameter without default, overridden)", fn.Env["SECRET"], "s3cret"},
		{"Env[TABLE_NAME] (Globals !Ref Table)", fn.Env["TABLE_NAME"], "s1-x"},
		{"Env[QUEUE_URL] (!Ref Queue is the URL)", fn.Env["QUEUE_URL"], queueURL},
		{"Env[QUEUE_ARN] (!GetAtt Queue.Arn)", fn.Env["QUEUE_ARN"], "arn:aws:sqs:eu-north-1:123456789012:s1-Queue"},
		{"Env[FIFO_URL] (long-form Ref)", fn.Env["FIFO_URL"], fifoURL},
		{"Env[TABLE_ARN] (long-form Fn::GetAtt)", fn.Env["TABLE_ARN"], "arn:aws:dynamodb:eu-north-1:123456789012:table/s1-x"},
		{"Env[DLQ_NAME] (!GetAtt [Dlq, QueueName])", fn.Env["DLQ_NAME"], "s1-Dlq"},
		{"Env[SUBBED] (!Sub with pseudo parameters and ${X.Attr})", fn.Env["SUBBED"], "s1/eu-north-1/123456789012/dev/s1-Dlq.amazonaws.com"},
		{"Env[LONG_SUB] (long-form Fn::Sub)", fn.Env["LONG_SUB"], "arn:aws:sqs:eu-north-1:123456789012:s1-Fifo.fifo/s1-x"},

		// HttpApi events, sorted by route key.
		{"Routes", fn.Routes, []stack.Route{
			{Event: "Health", Method: "GET", Path: "/health", Public: true},
			{Event: "GetThings", Method: "GET", Path: "/v1/things"},
			{Event: "PutThing", Method: "PUT", Path: "/v1/things/{id}", Scopes: []string{"forms:write", "admin"}},
		}},
		{"Routes[2].Key()", fn.Routes[2].Key(), "PUT /v1/things/{id}"},

		// SQS events: BatchSize defaults to 10.
		{"Queues (subscriptions)", fn.Queues, []stack.Subscription{
			{Event: "Work", Queue: "Queue", BatchSize: 5, ReportItemFailures: true, MaxBatchingWindowS: 2},
			{Event: "Ordered", Queue: "Fifo", BatchSize: 10},
		}},

		// Schedule (EventBridge rule) and ScheduleV2 (EventBridge Scheduler, with a time zone).
		{"Schedules", fn.Schedules, []stack.Schedule{
			{Event: "Nightly", Expression: "cron(0 2 * * ? *)"},
			{Event: "Morning", Expression: "cron(0 7 * * ? *)", Timezone: "Europe/Oslo"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestResolveParameters(t *testing.T) {
	tests := []struct {
		name         string
		params       map[string]string
		wantStage    string
		wantGreeting string
	}{
		{"defaults", map[string]string{"Secret": "x"}, "dev", "hello"},
		{"override one", map[string]string{"Secret": "x", "Stage": "prod"}, "prod", "hello"},
		{"override both", map[string]string{"Secret": "x", "Stage": "test", "Greeting": "hei"}, "test", "hei"},
		{"override with empty string", map[string]string{"Secret": "x", "Greeting": ""}, "dev", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := loadTestdata(t, "resolve.yaml")
			res, err := tmpl.Resolve(testNames(tt.params))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			env := res.Functions[0].Env
			if got := env["STAGE"]; got != tt.wantStage {
				t.Errorf("Env[STAGE]: got %q, want %q", got, tt.wantStage)
			}
			if got := env["GREETING"]; got != tt.wantGreeting {
				t.Errorf("Env[GREETING]: got %q, want %q", got, tt.wantGreeting)
			}
			if got := tmpl.Param("Stage", tt.params); got != tt.wantStage {
				t.Errorf("Param(Stage): got %q, want %q", got, tt.wantStage)
			}
			if got := tmpl.Param("Greeting", tt.params); got != tt.wantGreeting {
				t.Errorf("Param(Greeting): got %q, want %q", got, tt.wantGreeting)
			}
		})
	}
}

func TestResourcesOfType(t *testing.T) {
	tmpl := loadTestdata(t, "resolve.yaml")
	tests := []struct {
		typ  string
		want []string
	}{
		{"AWS::SQS::Queue", []string{"Dlq", "Queue", "Fifo"}},
		{"AWS::DynamoDB::Table", []string{"Table"}},
		{"AWS::Serverless::Function", []string{"WorkFunction"}},
		{"AWS::Serverless::HttpApi", []string{"Api"}},
		{"AWS::SNS::Topic", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			if got := tmpl.ResourcesOfType(tt.typ); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"missing Resources", "Parameters:\n  Stage:\n    Type: String\n", "no Resources"},
		{"resource without Type", "Resources:\n  T:\n    Properties: {}\n", "resource T has no Type"},
		{"top level is a list", "- a\n- b\n", "top level is not a mapping"},
		{"empty document", "", "top level is not a mapping"},
		{"invalid YAML", "Resources: [\n", "parse template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := stack.Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("got template %+v, want an error containing %q", tmpl, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	const table = `
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Q:
    Type: AWS::SQS::Queue
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
`
	fn := func(value string) string { return "Resources:" + table + "          X: " + value + "\n" }
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"!Ref to an unknown name", fn("!Ref Nope"), "!Ref Nope: no such parameter or resource"},
		{"long-form Ref to an unknown name", fn(`{"Ref": "Nope"}`), "!Ref Nope: no such parameter or resource"},
		{"!Ref to a parameter without a default", "Parameters:\n  P:\n    Type: String\n" + fn("!Ref P"), "!Ref P: no such parameter or resource"},
		{"!GetAtt unsupported attribute", fn("!GetAtt T.StreamArn"), "!GetAtt T.StreamArn: not supported locally"},
		{"long-form Fn::GetAtt unsupported attribute", fn(`{"Fn::GetAtt": ["Q", "Nope"]}`), "!GetAtt Q.Nope: not supported locally"},
		{"!GetAtt of an unknown resource", fn("!GetAtt Nope.Arn"), "!GetAtt Nope.Arn: resource not created locally"},
		{"!Sub with an unknown name", fn(`!Sub "${Nope}-x"`), "!Ref Nope"},
		{"!Sub unclosed", fn(`!Sub "${AWS::Region"`), "unclosed ${"},
		{"!Sub with a variable map", fn(`!Sub ["${A}-x", {A: a}]`), "!Sub with a variable map is not supported"},
		{"long-form Fn::Sub with a variable map", fn(`{"Fn::Sub": ["${A}-x", {A: a}]}`), "Fn::Sub with a variable map is not supported"},
		{"unsupported intrinsic", fn("!Join [-, [a, b]]"), "cannot resolve !Join locally"},
		{"table without HASH key", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: []\n", "resource T: no HASH key"},
		{"redrive without a numeric maxReceiveCount", "Resources:\n  D:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt D.Arn\n        maxReceiveCount: many\n", `maxReceiveCount "many"`},
		{"HttpApi event without Path", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: HttpApi\n          Properties:\n            Method: GET\n", "event E: HttpApi needs Method and Path"},
		{"SQS event with a literal ARN", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        E:\n          Type: SQS\n          Properties:\n            Queue: arn:aws:sqs:eu-north-1:1:q\n", "event E: SQS Queue must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := stack.Parse([]byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, tt.src)
			}
			res, err := tmpl.Resolve(testNames(nil))
			if err == nil {
				t.Fatalf("got %+v, want an error containing %q", res, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestRealTemplate resolves template.yaml as `make run` does and checks that
// the local runner's registry and the template list the same functions.
func TestRealTemplate(t *testing.T) {
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	res, err := tmpl.Resolve(testNames(map[string]string{"PersonKeySecretParameter": "/s1/person-key-secret"}))
	if err != nil {
		t.Fatalf("Resolve(%s): %v", path, err)
	}

	t.Run("every function is in localrun.Registry", func(t *testing.T) {
		ids := tmpl.ResourcesOfType("AWS::Serverless::Function")
		if len(ids) == 0 {
			t.Fatal("got no AWS::Serverless::Function, want at least one")
		}
		for _, id := range ids {
			if _, ok := localrun.Registry[id]; !ok {
				t.Errorf("function %s is in %s but not in localrun.Registry", id, path)
			}
		}
		for id := range localrun.Registry {
			if !slices.Contains(ids, id) {
				t.Errorf("localrun.Registry has %s, which is not a function in %s", id, path)
			}
		}
	})

	t.Run("tables have keys", func(t *testing.T) {
		if len(res.Tables) == 0 {
			t.Fatal("got no tables, want at least one")
		}
		for _, tb := range res.Tables {
			if tb.HashKey == "" || tb.Attributes[tb.HashKey] == "" {
				t.Errorf("table %s: hash key %q has no attribute definition (%v)", tb.LogicalID, tb.HashKey, tb.Attributes)
			}
			if want := "s1-" + tb.LogicalID; tb.Name != want {
				t.Errorf("table %s: got name %q, want %q", tb.LogicalID, tb.Name, want)
			}
		}
	})

	t.Run("functions get the Globals environment resolved", func(t *testing.T) {
		for _, f := range res.Functions {
			for _, k := range []string{"TABLE_NAME", "PERSON_KEY_SECRET_PARAM", "LOG_LEVEL", "STAGE", "METRICS_NAMESPACE"} {
				if f.Env[k] == "" {
					t.Errorf("function %s: %s is empty", f.LogicalID, k)
				}
			}
			if got, want := f.Env["PERSON_KEY_SECRET_PARAM"], "/s1/person-key-secret"; got != want {
				t.Errorf("function %s: PERSON_KEY_SECRET_PARAM got %q, want the override %q", f.LogicalID, got, want)
			}
			if _, ok := f.Env["PERSON_KEY_SECRET"]; ok {
				t.Errorf("function %s: the secret itself is in the template's environment; it belongs in Parameter Store", f.LogicalID)
			}
		}
	})

	t.Run("the README's consent routes are served", func(t *testing.T) {
		var keys []string
		for _, f := range res.Functions {
			for _, r := range f.Routes {
				keys = append(keys, fmt.Sprintf("%s %s", r.Key(), f.LogicalID))
			}
		}
		for _, want := range []string{
			"GET /v1/consent ConsentFunction", "PUT /v1/consent ConsentFunction",
			"DELETE /v1/consent ConsentFunction", "GET /v1/consent/history ConsentFunction",
		} {
			if !slices.Contains(keys, want) {
				t.Errorf("got routes %q, want them to include %q", keys, want)
			}
		}
	})
}
