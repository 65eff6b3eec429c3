package stack_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"privacycore/infra/stack"
)

// The tests in this file read limits from template.yaml. Each iterates over
// every function, event, table, API and schedule the template has, so a
// function or schedule added later without its limits fails here.

func loadTemplateRoot(t *testing.T) *node {
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
	return doc.Content[0]
}

// numberParam checks that v is !Ref to a Number parameter with a default and
// returns that default.
func numberParam(t *testing.T, root *node, v *node, what string) int {
	t.Helper()
	if v == nil || v.Tag != "!Ref" {
		t.Errorf("%s: want !Ref to a Number parameter, got %v", what, describe(v))
		return 0
	}
	p := field(root, "Parameters", v.Value)
	if p == nil || field(p, "Type") == nil || field(p, "Type").Value != "Number" || field(p, "Default") == nil {
		t.Errorf("%s: !Ref %s is not a Number parameter with a Default", what, v.Value)
		return 0
	}
	n, err := strconv.Atoi(field(p, "Default").Value)
	if err != nil {
		t.Errorf("%s: default of %s: %v", what, v.Value, err)
	}
	return n
}

func describe(v *node) string {
	if v == nil {
		return "nothing"
	}
	return strings.TrimSpace(v.Tag + " " + v.Value)
}

// functionEvents calls f for every event of every function.
func functionEvents(res map[string]*node, f func(fn, ev, typ string, props *node)) {
	for _, id := range sortedIDs(res) {
		n := res[id]
		if typeOf(n) != "AWS::Serverless::Function" {
			continue
		}
		evs := field(n, "Properties", "Events")
		if evs == nil {
			continue
		}
		for i := 0; i+1 < len(evs.Content); i += 2 {
			f(id, evs.Content[i].Value, typeOf(evs.Content[i+1]), field(evs.Content[i+1], "Properties"))
		}
	}
}

func sortedIDs(res map[string]*node) []string {
	ids := make([]string, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestReservedConcurrency: every function has a reserved concurrency from a
// parameter, and an SQS consumer reserves at least as much as its event
// sources may drive (else its own poller is throttled).
func TestReservedConcurrency(t *testing.T) {
	root := loadTemplateRoot(t)
	res := loadTemplateNodes(t)
	reserved := map[string]int{}
	for _, id := range sortedIDs(res) {
		if typeOf(res[id]) != "AWS::Serverless::Function" {
			continue
		}
		v := field(res[id], "Properties", "ReservedConcurrentExecutions")
		if v == nil {
			v = field(root, "Globals", "Function", "ReservedConcurrentExecutions")
		}
		reserved[id] = numberParam(t, root, v, id+".ReservedConcurrentExecutions")
		if reserved[id] < 1 {
			t.Errorf("%s: reserved concurrency default %d; 0 would switch the function off", id, reserved[id])
		}
	}
	if len(reserved) == 0 {
		t.Fatal("no functions in the template")
	}
	sqs := 0
	functionEvents(res, func(fn, ev, typ string, p *node) {
		if typ != "SQS" {
			return
		}
		sqs++
		what := fn + "." + ev + ".ScalingConfig.MaximumConcurrency"
		max := numberParam(t, root, field(p, "ScalingConfig", "MaximumConcurrency"), what)
		if max < 2 || max > 1000 {
			t.Errorf("%s: default %d outside AWS's bounds 2..1000", what, max)
		}
		if max > reserved[fn] {
			t.Errorf("%s: default %d is above the function's reserved concurrency %d", what, max, reserved[fn])
		}
	})
	if sqs == 0 {
		t.Fatal("no SQS events in the template")
	}
}

// TestAPIThrottling: every HTTP API throttles each route by default.
func TestAPIThrottling(t *testing.T) {
	root := loadTemplateRoot(t)
	res := loadTemplateNodes(t)
	apis := 0
	for _, id := range sortedIDs(res) {
		if typeOf(res[id]) != "AWS::Serverless::HttpApi" {
			continue
		}
		apis++
		s := field(res[id], "Properties", "DefaultRouteSettings")
		rate := numberParam(t, root, field(s, "ThrottlingRateLimit"), id+".DefaultRouteSettings.ThrottlingRateLimit")
		burst := numberParam(t, root, field(s, "ThrottlingBurstLimit"), id+".DefaultRouteSettings.ThrottlingBurstLimit")
		if rate < 1 || burst < 1 {
			t.Errorf("%s: throttling defaults rate %d, burst %d; both must be positive", id, rate, burst)
		}
	}
	if apis == 0 {
		t.Fatal("no HTTP API in the template")
	}
}

// TestLogGroups: every function logs to its own log group of the template
// (LoggingConfig), and every log group of the template (these and the
// access log) expires its logs after a parameter's number of days.
func TestLogGroups(t *testing.T) {
	root := loadTemplateRoot(t)
	res := loadTemplateNodes(t)
	owner := map[string]string{}
	for _, id := range sortedIDs(res) {
		if typeOf(res[id]) != "AWS::Serverless::Function" {
			continue
		}
		g := field(res[id], "Properties", "LoggingConfig", "LogGroup")
		if g == nil || g.Tag != "!Ref" || typeOf(res[g.Value]) != "AWS::Logs::LogGroup" {
			t.Errorf("%s: LoggingConfig.LogGroup must be !Ref to an AWS::Logs::LogGroup of the template, got %s", id, describe(g))
			continue
		}
		if prev, ok := owner[g.Value]; ok {
			t.Errorf("%s and %s share log group %s", prev, id, g.Value)
		}
		owner[g.Value] = id
	}
	if d := field(res["PortalApi"], "Properties", "AccessLogSettings", "DestinationArn"); d != nil {
		owner[strings.TrimSuffix(d.Value, ".Arn")] = "PortalApi access log"
	}
	groups := 0
	for _, id := range sortedIDs(res) {
		if typeOf(res[id]) != "AWS::Logs::LogGroup" {
			continue
		}
		groups++
		if days := numberParam(t, root, field(res[id], "Properties", "RetentionInDays"), id+".RetentionInDays"); days < 1 {
			t.Errorf("%s: retention default %d days", id, days)
		}
		if _, ok := owner[id]; !ok {
			t.Errorf("log group %s is used by no function and no API", id)
		}
	}
	if groups == 0 {
		t.Fatal("no log groups in the template")
	}
}

// TestTableDeletionProtection: no table can be deleted by a stack update
// or by hand without first turning protection off.
func TestTableDeletionProtection(t *testing.T) {
	res := loadTemplateNodes(t)
	tables := 0
	for _, id := range sortedIDs(res) {
		if typeOf(res[id]) != "AWS::DynamoDB::Table" {
			continue
		}
		tables++
		if v := field(res[id], "Properties", "DeletionProtectionEnabled"); v == nil || v.Value != "true" {
			t.Errorf("%s: DeletionProtectionEnabled: got %s, want true", id, describe(v))
		}
	}
	if tables == 0 {
		t.Fatal("no tables in the template")
	}
}

// TestScheduleRetries: every schedule retries a failed invocation and then
// puts it on a dead-letter queue of the template that has an alarm.
func TestScheduleRetries(t *testing.T) {
	root := loadTemplateRoot(t)
	res := loadTemplateNodes(t)
	alarmed := map[string]bool{}
	for _, n := range res {
		if typeOf(n) == "AWS::CloudWatch::Alarm" {
			alarmed[alarmOn(n)] = true
		}
	}
	schedules := 0
	functionEvents(res, func(fn, ev, typ string, p *node) {
		if typ != "Schedule" && typ != "ScheduleV2" {
			return
		}
		schedules++
		what := fn + "." + ev
		numberParam(t, root, field(p, "RetryPolicy", "MaximumRetryAttempts"), what+".RetryPolicy.MaximumRetryAttempts")
		if typ == "ScheduleV2" {
			numberParam(t, root, field(p, "RetryPolicy", "MaximumEventAgeInSeconds"), what+".RetryPolicy.MaximumEventAgeInSeconds")
		}
		dlq := field(p, "DeadLetterConfig", "Arn")
		if dlq == nil || dlq.Tag != "!GetAtt" || !strings.HasSuffix(dlq.Value, ".Arn") || typeOf(res[strings.TrimSuffix(dlq.Value, ".Arn")]) != "AWS::SQS::Queue" {
			t.Errorf("%s: DeadLetterConfig.Arn must be !GetAtt <queue of the template>.Arn, got %s", what, describe(dlq))
			return
		}
		q := strings.TrimSuffix(dlq.Value, ".Arn")
		if !alarmed["AWS/SQS/ApproximateNumberOfMessagesVisible QueueName=GetAtt:"+q+".QueueName"] {
			t.Errorf("%s: its dead-letter queue %s has no alarm", what, q)
		}
	})
	if schedules == 0 {
		t.Fatal("no schedules in the template")
	}
}

// TestProdNeedsAlarmTopic evaluates the template's Rules as CloudFormation
// does before a deploy: prod without AlarmTopicArn is refused, prod with it
// and the other stages without it are not. samconfig.toml's prod overrides
// must select the prod stage, so the rule guards `sam deploy --config-env prod`.
func TestProdNeedsAlarmTopic(t *testing.T) {
	root := loadTemplateRoot(t)
	rules := field(root, "Rules")
	if rules == nil {
		t.Fatal("template has no Rules")
	}
	const topic = "arn:aws:sns:eu-north-1:123456789012:oncall"
	prod := samconfigOverrides(t, "prod")
	if prod["Stage"] != "prod" {
		t.Fatalf("samconfig.toml [prod.deploy.parameters] sets Stage=%q, want prod", prod["Stage"])
	}
	with := func(m map[string]string, k, v string) map[string]string {
		c := map[string]string{}
		for kk, vv := range m {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	tests := []struct {
		name   string
		params map[string]string
		wantOK bool
	}{
		{"prod without a topic", with(prod, "AlarmTopicArn", ""), false},
		{"prod with a topic", with(prod, "AlarmTopicArn", topic), true},
		{"dev without a topic", map[string]string{"Stage": "dev"}, true},
		{"test without a topic", map[string]string{"Stage": "test"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := map[string]string{}
			ps := field(root, "Parameters")
			for i := 0; i+1 < len(ps.Content); i += 2 {
				if d := field(ps.Content[i+1], "Default"); d != nil {
					params[ps.Content[i].Value] = d.Value
				}
			}
			for k, v := range tt.params {
				params[k] = v
			}
			failed := ""
			for i := 0; i+1 < len(rules.Content); i += 2 {
				r := rules.Content[i+1]
				if c := field(r, "RuleCondition"); c != nil && !evalCondition(t, c, params) {
					continue
				}
				for _, a := range field(r, "Assertions").Content {
					if !evalCondition(t, field(a, "Assert"), params) {
						failed = rules.Content[i].Value + ": " + field(a, "AssertDescription").Value
					}
				}
			}
			if gotOK := failed == ""; gotOK != tt.wantOK {
				t.Errorf("deploy allowed: got %v (%s), want %v", gotOK, failed, tt.wantOK)
			}
		})
	}
}

// evalCondition evaluates the rule functions the template uses.
func evalCondition(t *testing.T, n *node, params map[string]string) bool {
	t.Helper()
	switch n.Tag {
	case "!Equals":
		return evalString(t, n.Content[0], params) == evalString(t, n.Content[1], params)
	case "!Not":
		return !evalCondition(t, n.Content[0], params)
	case "!And", "!Or":
		all, any := true, false
		for _, c := range n.Content {
			v := evalCondition(t, c, params)
			all, any = all && v, any || v
		}
		if n.Tag == "!And" {
			return all
		}
		return any
	}
	t.Fatalf("rule function %s not supported by this test", n.Tag)
	return false
}

func evalString(t *testing.T, n *node, params map[string]string) string {
	t.Helper()
	switch n.Tag {
	case "!Ref":
		v, ok := params[n.Value]
		if !ok {
			t.Fatalf("!Ref %s: no such parameter", n.Value)
		}
		return v
	case "!!str", "!!int", "!!bool", "":
		return n.Value
	}
	t.Fatalf("rule value %s not supported by this test", n.Tag)
	return ""
}

// samconfigOverrides returns the parameter_overrides of one samconfig.toml
// environment, as Name=Value pairs.
func samconfigOverrides(t *testing.T, env string) map[string]string {
	t.Helper()
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	section := "[" + env + ".deploy.parameters]"
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = line == section
			continue
		}
		if k, v, ok := strings.Cut(line, "="); in && ok && strings.TrimSpace(k) == "parameter_overrides" {
			v, err := strconv.Unquote(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("%s parameter_overrides: %v", section, err)
			}
			m := map[string]string{}
			for _, kv := range strings.Fields(v) {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
	}
	t.Fatalf("samconfig.toml has no %s parameter_overrides", section)
	return nil
}
