package stack_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/platform/metrics"
	"privacycore/shared/wire"
)

// node is a template value with its CloudFormation tag kept, for reading
// alarms and policies the local stack itself ignores.
type node = yaml.Node

func loadTemplateNodes(t *testing.T) map[string]*node {
	t.Helper()
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	res := map[string]*node{}
	rs := field(doc.Content[0], "Resources")
	for i := 0; i+1 < len(rs.Content); i += 2 {
		res[rs.Content[i].Value] = rs.Content[i+1]
	}
	return res
}

func field(n *node, path ...string) *node {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func typeOf(n *node) string {
	if v := field(n, "Type"); v != nil {
		return v.Value
	}
	return ""
}

// alarmOn describes what an alarm watches: "Namespace/Metric Dim=Value ...",
// where a !Ref X value is written "Ref:X" and !GetAtt X.Y "GetAtt:X.Y".
func alarmOn(n *node) string {
	p := field(n, "Properties")
	s := field(p, "Namespace").Value + "/" + field(p, "MetricName").Value
	if ns := field(p, "Namespace"); ns.Tag == "!Sub" {
		s = "Sub:" + s
	}
	if d := field(p, "Dimensions"); d != nil {
		for _, dim := range d.Content {
			v := field(dim, "Value")
			val := v.Value
			switch v.Tag {
			case "!Ref":
				val = "Ref:" + val
			case "!GetAtt":
				val = "GetAtt:" + val
			}
			s += " " + field(dim, "Name").Value + "=" + val
		}
	}
	return s
}

// TestTemplateAlarms checks that the template declares the alarms operations
// rely on, for every function and dead-letter queue there is: a function or
// queue added later without its alarms fails here.
func TestTemplateAlarms(t *testing.T) {
	res := loadTemplateNodes(t)
	var alarms []string
	for id, n := range res {
		if typeOf(n) != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms = append(alarms, alarmOn(n))
		p := field(n, "Properties")
		for _, k := range []string{"AlarmActions", "OKActions"} {
			a := field(p, k)
			if a == nil || a.Tag != "!If" || len(a.Content) < 2 || a.Content[0].Value != "HasAlarmTopic" {
				t.Errorf("alarm %s: %s must notify AlarmTopicArn when it is set (!If [HasAlarmTopic, ...])", id, k)
			}
		}
	}
	var want []string
	for id, n := range res {
		switch typeOf(n) {
		case "AWS::Serverless::Function":
			want = append(want, "AWS/Lambda/Errors FunctionName=Ref:"+id, "AWS/Lambda/Throttles FunctionName=Ref:"+id)
		case "AWS::SQS::Queue":
			if dlq := field(n, "Properties", "RedrivePolicy", "deadLetterTargetArn"); dlq != nil {
				q := strings.TrimSuffix(dlq.Value, ".Arn")
				want = append(want, "AWS/SQS/ApproximateNumberOfMessagesVisible QueueName=GetAtt:"+q+".QueueName")
			}
		}
	}
	want = append(want, "Sub:PrivacyCore/${Stage}/"+metrics.OverdueJobs+" "+metrics.Service+"="+metrics.DefaultService+" "+metrics.Function+"="+metrics.SweeperFunction)
	for _, w := range want {
		if !slices.Contains(alarms, w) {
			t.Errorf("no alarm on %s", w)
		}
	}
	overdue := field(res["DeletionJobsOverdueAlarm"], "Properties")
	if got := field(overdue, "TreatMissingData"); got == nil || got.Value != "breaching" {
		t.Errorf("DeletionJobsOverdueAlarm: a sweeper that stops reporting must alarm (TreatMissingData: breaching)")
	}
}

// TestAccessLog checks the HTTP API's access log: on, with the request id,
// and without identity, claims, address or path values.
func TestAccessLog(t *testing.T) {
	res := loadTemplateNodes(t)
	s := field(res["PortalApi"], "Properties", "AccessLogSettings")
	if s == nil {
		t.Fatal("PortalApi has no AccessLogSettings")
	}
	if d := field(s, "DestinationArn"); d == nil || d.Tag != "!GetAtt" || typeOf(res[strings.TrimSuffix(d.Value, ".Arn")]) != "AWS::Logs::LogGroup" {
		t.Errorf("access log destination must be a log group of the template")
	}
	format := field(s, "Format").Value
	for _, want := range []string{"$context.requestId", "$context.routeKey", "$context.status", "$context.integrationErrorMessage"} {
		if !strings.Contains(format, want) {
			t.Errorf("access log format lacks %s", want)
		}
	}
	for _, bad := range []string{"$context.identity", "$context.authorizer.claims", "$context.authorizer.principalId", "$context.path", "sourceIp"} {
		if strings.Contains(format, bad) {
			t.Errorf("access log format has %s: no identities, claims, addresses or raw paths in the access log", bad)
		}
	}
}

// TestSecretPolicy builds every function of the template on the emulator
// with its secret parameter missing: the ones that fail read the person-key
// secret at cold start and must have PersonKeySecretReadPolicy; the others
// must not (least privilege).
func TestSecretPolicy(t *testing.T) {
	res := loadTemplateNodes(t)
	local := testenv.New(t)
	const missing = "/nowhere/person-key-secret"
	for _, f := range local.Resolved.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			env := local.Getenv(f)
			getenv := func(k string) string {
				if k == "PERSON_KEY_SECRET_PARAM" {
					return missing
				}
				return env(k)
			}
			_, err := localrun.Registry[f.LogicalID](wire.Env{AWS: local.AWS, Getenv: getenv, Log: discardWriter{}, Now: time.Now})
			readsSecret := err != nil && strings.Contains(err.Error(), missing)
			if err != nil && !readsSecret {
				t.Fatalf("build: %v", err)
			}
			hasPolicy := false
			for _, p := range field(res[f.LogicalID], "Properties", "Policies").Content {
				hasPolicy = hasPolicy || (p.Tag == "!Ref" && p.Value == "PersonKeySecretReadPolicy")
			}
			if readsSecret != hasPolicy {
				t.Errorf("reads the person-key secret: %v; has PersonKeySecretReadPolicy: %v", readsSecret, hasPolicy)
			}
		})
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestTracing: X-Ray active tracing on every function (Globals), and no
// function turns it off.
func TestTracing(t *testing.T) {
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got := field(doc.Content[0], "Globals", "Function", "Tracing"); got == nil || got.Value != "Active" {
		t.Errorf("Globals.Function.Tracing: want Active")
	}
	for id, n := range loadTemplateNodes(t) {
		if typeOf(n) != "AWS::Serverless::Function" {
			continue
		}
		if tr := field(n, "Properties", "Tracing"); tr != nil && tr.Value != "Active" {
			t.Errorf("function %s sets Tracing: %s; every function is traced", id, tr.Value)
		}
	}
}
