// Package stack reads template.yaml, the single source of truth for what
// exists, and turns it into something the local stack can run: tables and
// queues to create on the emulator, functions with their environment, HTTP
// routes, queue subscriptions and schedules. CloudFormation intrinsics that
// matter locally (!Ref, !GetAtt, !Sub, and their long forms) are resolved;
// logical ids become local physical names.
package stack

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	params    map[string]string // defaults
	globals   map[string]*yaml.Node
	resources map[string]resource
	order     []string
}

type resource struct {
	Type       string
	Properties *yaml.Node
	Metadata   *yaml.Node
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(b)
}

// Parse parses a SAM template.
func Parse(b []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse template: top level is not a mapping")
	}
	root := doc.Content[0]
	t := &Template{params: map[string]string{}, globals: map[string]*yaml.Node{}, resources: map[string]resource{}}
	if ps := get(root, "Parameters"); ps != nil {
		for _, kv := range pairs(ps) {
			if d := get(kv.v, "Default"); d != nil {
				t.params[kv.k] = d.Value
			}
		}
	}
	if g := get(get(root, "Globals"), "Function"); g != nil {
		for _, kv := range pairs(g) {
			t.globals[kv.k] = kv.v
		}
	}
	rs := get(root, "Resources")
	if rs == nil {
		return nil, fmt.Errorf("parse template: no Resources")
	}
	for _, kv := range pairs(rs) {
		typ := get(kv.v, "Type")
		if typ == nil {
			return nil, fmt.Errorf("parse template: resource %s has no Type", kv.k)
		}
		t.resources[kv.k] = resource{Type: typ.Value, Properties: get(kv.v, "Properties"), Metadata: get(kv.v, "Metadata")}
		t.order = append(t.order, kv.k)
	}
	return t, nil
}

// ResourcesOfType lists the logical ids of resources of one type, in template order.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for _, id := range t.order {
		if t.resources[id].Type == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

// Names decides the local physical names of resources.
type Names struct {
	// StackName stands in for AWS::StackName and prefixes generated names.
	StackName string
	Region    string
	AccountID string
	// Params override parameter defaults.
	Params map[string]string
	// QueueURL returns the URL of a queue by physical name (Ref of a queue).
	QueueURL func(name string) string
}

// Resolved is a template with every value that matters locally resolved.
type Resolved struct {
	Tables    []Table
	Queues    []Queue
	Functions []Function
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	LogicalID   string
	Name        string
	HashKey     string
	RangeKey    string
	Attributes  map[string]string // name → S | N | B
	GSIs        []Index
	TTLAttr     string
	StreamsView string
}

// Index is a global secondary index.
type Index struct {
	Name           string
	HashKey        string
	RangeKey       string
	ProjectionType string
	NonKeyAttrs    []string
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID       string
	Name            string
	Attributes      map[string]string // SQS queue attributes, RedrivePolicy as JSON
	DeadLetterQueue string            // logical id of the DLQ, if any
}

// Function is an AWS::Serverless::Function.
type Function struct {
	LogicalID string
	Env       map[string]string
	Routes    []Route
	Queues    []Subscription
	Schedules []Schedule
}

// Route is an HttpApi event.
type Route struct {
	Event  string
	Method string
	Path   string
	// Public is true when the route has Auth: {Authorizer: NONE}.
	Public bool
	Scopes []string
}

// Key returns the route key ("GET /v1/consent") as API Gateway sets it.
func (r Route) Key() string { return r.Method + " " + r.Path }

// Subscription is an SQS event source.
type Subscription struct {
	Event              string
	Queue              string // logical id
	BatchSize          int
	ReportItemFailures bool
	MaxBatchingWindowS int
}

// Schedule is a Schedule or ScheduleV2 event.
type Schedule struct {
	Event      string
	Expression string
	Timezone   string
}

// Resolve resolves the template with local names.
func (t *Template) Resolve(n Names) (*Resolved, error) {
	r := &resolver{t: t, n: n, names: map[string]string{}}
	out := &Resolved{}
	// Names first: a function's environment may refer to any resource.
	for _, id := range t.order {
		res := t.resources[id]
		switch res.Type {
		case "AWS::DynamoDB::Table":
			name, err := r.explicitName(res.Properties, "TableName", id)
			if err != nil {
				return nil, err
			}
			r.names[id] = name
		case "AWS::SQS::Queue":
			name, err := r.explicitName(res.Properties, "QueueName", id)
			if err != nil {
				return nil, err
			}
			if fifo := get(res.Properties, "FifoQueue"); fifo != nil && fifo.Value == "true" && !strings.HasSuffix(name, ".fifo") {
				name += ".fifo"
			}
			r.names[id] = name
		}
	}
	for _, id := range t.order {
		res := t.resources[id]
		var err error
		switch res.Type {
		case "AWS::DynamoDB::Table":
			var tb Table
			tb, err = r.table(id, res.Properties)
			out.Tables = append(out.Tables, tb)
		case "AWS::SQS::Queue":
			var q Queue
			q, err = r.queue(id, res.Properties)
			out.Queues = append(out.Queues, q)
		case "AWS::Serverless::Function":
			var f Function
			f, err = r.function(id, res.Properties)
			out.Functions = append(out.Functions, f)
		}
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
	}
	return out, nil
}

type resolver struct {
	t     *Template
	n     Names
	names map[string]string // logical id → physical name
}

func (r *resolver) explicitName(props *yaml.Node, field, id string) (string, error) {
	if v := get(props, field); v != nil {
		return r.str(v)
	}
	return r.n.StackName + "-" + id, nil
}

func (r *resolver) table(id string, p *yaml.Node) (Table, error) {
	tb := Table{LogicalID: id, Name: r.names[id], Attributes: map[string]string{}}
	for _, a := range items(get(p, "AttributeDefinitions")) {
		tb.Attributes[scalar(get(a, "AttributeName"))] = scalar(get(a, "AttributeType"))
	}
	tb.HashKey, tb.RangeKey = keySchema(get(p, "KeySchema"))
	if tb.HashKey == "" {
		return Table{}, fmt.Errorf("no HASH key")
	}
	for _, g := range items(get(p, "GlobalSecondaryIndexes")) {
		ix := Index{Name: scalar(get(g, "IndexName"))}
		ix.HashKey, ix.RangeKey = keySchema(get(g, "KeySchema"))
		proj := get(g, "Projection")
		ix.ProjectionType = scalar(get(proj, "ProjectionType"))
		for _, a := range items(get(proj, "NonKeyAttributes")) {
			ix.NonKeyAttrs = append(ix.NonKeyAttrs, a.Value)
		}
		tb.GSIs = append(tb.GSIs, ix)
	}
	if ttl := get(p, "TimeToLiveSpecification"); ttl != nil && scalar(get(ttl, "Enabled")) == "true" {
		tb.TTLAttr = scalar(get(ttl, "AttributeName"))
	}
	if s := get(p, "StreamSpecification"); s != nil {
		tb.StreamsView = scalar(get(s, "StreamViewType"))
	}
	return tb, nil
}

// queueAttrs maps AWS::SQS::Queue properties to SetQueueAttributes names.
var queueAttrs = []string{
	"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
	"ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication",
}

func (r *resolver) queue(id string, p *yaml.Node) (Queue, error) {
	q := Queue{LogicalID: id, Name: r.names[id], Attributes: map[string]string{}}
	for _, a := range queueAttrs {
		if v := get(p, a); v != nil {
			s, err := r.str(v)
			if err != nil {
				return Queue{}, err
			}
			q.Attributes[a] = s
		}
	}
	if rp := get(p, "RedrivePolicy"); rp != nil {
		target := get(rp, "deadLetterTargetArn")
		arn, err := r.str(target)
		if err != nil {
			return Queue{}, fmt.Errorf("RedrivePolicy: %w", err)
		}
		q.DeadLetterQueue = refTarget(target)
		max := scalar(get(rp, "maxReceiveCount"))
		if _, err := strconv.Atoi(max); err != nil {
			return Queue{}, fmt.Errorf("RedrivePolicy.maxReceiveCount %q", max)
		}
		q.Attributes["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%s}`, arn, max)
	}
	return q, nil
}

func (r *resolver) function(id string, p *yaml.Node) (Function, error) {
	f := Function{LogicalID: id, Env: map[string]string{}}
	for _, src := range []*yaml.Node{get(get(r.t.globals["Environment"], "Variables"), ""), get(get(p, "Environment"), "Variables")} {
		for _, kv := range pairs(src) {
			v, err := r.str(kv.v)
			if err != nil {
				return Function{}, fmt.Errorf("environment %s: %w", kv.k, err)
			}
			f.Env[kv.k] = v
		}
	}
	for _, ev := range pairs(get(p, "Events")) {
		props := get(ev.v, "Properties")
		switch typ := scalar(get(ev.v, "Type")); typ {
		case "HttpApi":
			rt := Route{Event: ev.k, Method: strings.ToUpper(scalar(get(props, "Method"))), Path: scalar(get(props, "Path"))}
			if auth := get(props, "Auth"); auth != nil {
				rt.Public = scalar(get(auth, "Authorizer")) == "NONE"
				for _, s := range items(get(auth, "AuthorizationScopes")) {
					rt.Scopes = append(rt.Scopes, s.Value)
				}
			}
			if rt.Method == "" || rt.Path == "" {
				return Function{}, fmt.Errorf("event %s: HttpApi needs Method and Path", ev.k)
			}
			f.Routes = append(f.Routes, rt)
		case "SQS":
			s := Subscription{Event: ev.k, Queue: refTarget(get(props, "Queue")), BatchSize: 10}
			if s.Queue == "" {
				return Function{}, fmt.Errorf("event %s: SQS Queue must be !GetAtt <Queue>.Arn", ev.k)
			}
			if b := scalar(get(props, "BatchSize")); b != "" {
				n, err := strconv.Atoi(b)
				if err != nil || n < 1 || n > 10000 {
					return Function{}, fmt.Errorf("event %s: BatchSize %q", ev.k, b)
				}
				s.BatchSize = n
			}
			if w := scalar(get(props, "MaximumBatchingWindowInSeconds")); w != "" {
				n, err := strconv.Atoi(w)
				if err != nil || n < 0 || n > 300 {
					return Function{}, fmt.Errorf("event %s: MaximumBatchingWindowInSeconds %q", ev.k, w)
				}
				s.MaxBatchingWindowS = n
			}
			for _, rt := range items(get(props, "FunctionResponseTypes")) {
				s.ReportItemFailures = s.ReportItemFailures || rt.Value == "ReportBatchItemFailures"
			}
			f.Queues = append(f.Queues, s)
		case "Schedule", "ScheduleV2":
			expr := scalar(get(props, "Schedule"))
			if typ == "ScheduleV2" {
				expr = scalar(get(props, "ScheduleExpression"))
			}
			f.Schedules = append(f.Schedules, Schedule{Event: ev.k, Expression: expr, Timezone: scalar(get(props, "ScheduleExpressionTimezone"))})
		}
	}
	slices.SortFunc(f.Routes, func(a, b Route) int { return strings.Compare(a.Key(), b.Key()) })
	return f, nil
}

// str resolves a value node to a string.
func (r *resolver) str(n *yaml.Node) (string, error) {
	if n == nil {
		return "", nil
	}
	switch n.Tag {
	case "!Ref":
		return r.ref(n.Value)
	case "!GetAtt":
		if n.Kind == yaml.SequenceNode && len(n.Content) == 2 {
			return r.getAtt(n.Content[0].Value, n.Content[1].Value)
		}
		id, attr, _ := strings.Cut(n.Value, ".")
		return r.getAtt(id, attr)
	case "!Sub":
		if n.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("line %d: !Sub with a variable map is not supported locally", n.Line)
		}
		return r.sub(n.Value)
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		switch k, v := n.Content[0].Value, n.Content[1]; k {
		case "Ref":
			return r.ref(v.Value)
		case "Fn::GetAtt":
			if v.Kind == yaml.SequenceNode && len(v.Content) == 2 {
				return r.getAtt(v.Content[0].Value, v.Content[1].Value)
			}
		case "Fn::Sub":
			if v.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("line %d: Fn::Sub with a variable map is not supported locally", v.Line)
			}
			return r.sub(v.Value)
		}
	}
	// Plain scalars carry yaml's resolved core tags (!!str, !!int, !!bool);
	// only a local tag (a single "!", an intrinsic) is left unresolved here.
	if n.Kind != yaml.ScalarNode || (strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")) {
		return "", fmt.Errorf("line %d: cannot resolve %s locally", n.Line, n.Tag)
	}
	return n.Value, nil
}

func (r *resolver) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return r.n.Region, nil
	case "AWS::AccountId":
		return r.n.AccountID, nil
	case "AWS::StackName":
		return r.n.StackName, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::Partition":
		return "aws", nil
	}
	if v, ok := r.n.Params[name]; ok {
		return v, nil
	}
	if v, ok := r.t.params[name]; ok {
		return v, nil
	}
	if _, declared := r.t.resources[name]; !declared {
		return "", fmt.Errorf("!Ref %s: no such parameter or resource (or a parameter without a default)", name)
	}
	phys, ok := r.names[name]
	if !ok {
		return name, nil // resources the local stack does not create (APIs, topics)
	}
	if r.t.resources[name].Type == "AWS::SQS::Queue" && r.n.QueueURL != nil {
		return r.n.QueueURL(phys), nil
	}
	return phys, nil
}

func (r *resolver) getAtt(id, attr string) (string, error) {
	phys, ok := r.names[id]
	if !ok {
		return "", fmt.Errorf("!GetAtt %s.%s: resource not created locally", id, attr)
	}
	switch t := r.t.resources[id].Type; {
	case attr == "Arn" && t == "AWS::DynamoDB::Table":
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", r.n.Region, r.n.AccountID, phys), nil
	case attr == "Arn" && t == "AWS::SQS::Queue":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", r.n.Region, r.n.AccountID, phys), nil
	case attr == "QueueName":
		return phys, nil
	case attr == "QueueUrl" && r.n.QueueURL != nil:
		return r.n.QueueURL(phys), nil
	}
	return "", fmt.Errorf("!GetAtt %s.%s: not supported locally", id, attr)
}

func (r *resolver) sub(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("!Sub %q: unclosed ${", s)
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		var v string
		var err error
		if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = r.getAtt(id, attr)
		} else {
			v, err = r.ref(name)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

// refTarget returns the logical id a !GetAtt X.Arn or !Ref X points at.
func refTarget(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	switch n.Tag {
	case "!Ref":
		return n.Value
	case "!GetAtt":
		if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
			return n.Content[0].Value
		}
		id, _, _ := strings.Cut(n.Value, ".")
		return id
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		v := n.Content[1]
		if v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
			return v.Content[0].Value
		}
		return v.Value
	}
	return ""
}

func keySchema(n *yaml.Node) (hash, rng string) {
	for _, k := range items(n) {
		switch scalar(get(k, "KeyType")) {
		case "HASH":
			hash = scalar(get(k, "AttributeName"))
		case "RANGE":
			rng = scalar(get(k, "AttributeName"))
		}
	}
	return hash, rng
}

type kv struct {
	k string
	v *yaml.Node
}

// get returns the value of key in a mapping node; key "" returns n itself.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || key == "" {
		return n
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func pairs(n *yaml.Node) []kv {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]kv, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, kv{n.Content[i].Value, n.Content[i+1]})
	}
	return out
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// Param returns a parameter's value: the override if given, else the default.
func (t *Template) Param(name string, overrides map[string]string) string {
	if v, ok := overrides[name]; ok {
		return v
	}
	return t.params[name]
}
