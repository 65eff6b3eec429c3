// Package metrics writes CloudWatch metrics in the Embedded Metric Format
// (EMF): one JSON line per data point on the function's log stream (stdout
// in Lambda), which CloudWatch Logs turns into metrics without an API call.
//
// Dimensions come from a closed set of names with low-cardinality values
// (route keys, levels, rules, notice types, outcomes). A value that looks
// like a person id (11 digits) or a person key (64 hex characters) is never
// written: the data point is dropped and an error logged, naming only the
// dimension.
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// DefaultNamespace is the CloudWatch namespace when none is configured
// (template.yaml sets METRICS_NAMESPACE to PrivacyCore/<Stage>).
const DefaultNamespace = "PrivacyCore"

// DefaultService is the Service dimension when none is configured (as
// Lambda Powertools, every data point carries the service; template.yaml
// sets POWERTOOLS_SERVICE_NAME).
const DefaultService = "privacycore"

// Unit is a CloudWatch unit.
type Unit string

// The units used here.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// The metric names. Alarms in template.yaml refer to some of them by name.
const (
	Requests          = "Requests"          // per route and status class
	Latency           = "Latency"           // per route and status class, ms
	Decisions         = "Decisions"         // access decisions per outcome and rule
	SectorDecisions   = "SectorDecisions"   // the sector's decisions per outcome, resource and rule
	ConsentChanges    = "ConsentChanges"    // per action and level
	Notices           = "Notices"           // register notices per type and outcome
	Purges            = "Purges"            // finished delayed deletions per reason
	ItemsDeleted      = "ItemsDeleted"      // items a purge deleted, per reason
	PurgesNotDue      = "PurgesNotDue"      // purge messages refused: the job is not due yet
	JobsQueued        = "JobsQueued"        // deletion jobs the sweeper sent to the purge queue
	OverdueJobs       = "OverdueJobs"       // deletion jobs not done a day after they were due
	MessagesReceived  = "MessagesReceived"  // SQS messages a consumer was handed
	MessagesFailed    = "MessagesFailed"    // SQS messages reported failed; after retries they go to the DLQ
	DroppedDataPoints = "DroppedDataPoints" // data points refused by the guard
	ColdStart         = "ColdStart"         // a function's first invocation in a new execution environment
)

// Names lists every metric the code emits (the constants above); the
// dashboard and alarms in template.yaml may name only these (infra/stack tests).
var Names = []string{
	Requests, Latency, Decisions, SectorDecisions, ConsentChanges, Notices, Purges, ItemsDeleted, PurgesNotDue,
	JobsQueued, OverdueJobs, MessagesReceived, MessagesFailed, DroppedDataPoints, ColdStart,
}

// The dimension names: the closed set a data point may use.
const (
	Service     = "Service" // on every data point: the emitter's service
	Function    = "Function"
	Route       = "Route"
	StatusClass = "StatusClass"
	Outcome     = "Outcome"
	Rule        = "Rule"
	Action      = "Action"
	Level       = "Level"
	NoticeType  = "NoticeType"
	Reason      = "Reason"
	Resource    = "Resource"
)

// Dimensions lists the dimension names a data point may carry.
var Dimensions = []string{Service, Function, Route, StatusClass, Outcome, Rule, Action, Level, NoticeType, Reason, Resource}

var dimensionNames = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range Dimensions {
		m[d] = true
	}
	return m
}()

// maxValueLen bounds a dimension value (CloudWatch allows 1024); ours are
// names and route keys.
const maxValueLen = 128

// Dim is one dimension of a data point.
type Dim struct{ Name, Value string }

// Value is one metric of a data point.
type Value struct {
	Name  string
	Unit  Unit
	Value float64
}

// Emitter writes EMF lines. A nil *Emitter discards everything, so a
// handler built without metrics (a unit test) needs no special case.
type Emitter struct {
	w         io.Writer
	namespace string
	service   string
	log       *slog.Logger
	now       func() time.Time
	mu        sync.Mutex
}

// New returns an emitter writing to w under namespace (DefaultNamespace if
// empty); refused data points are logged to log.
func New(w io.Writer, namespace string, log *slog.Logger) *Emitter {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Emitter{w: w, namespace: namespace, service: DefaultService, log: log, now: time.Now}
}

// WithService returns e with every data point under the Service dimension
// service (DefaultService if empty).
func (e *Emitter) WithService(service string) *Emitter {
	if service == "" {
		service = DefaultService
	}
	e.service = service
	return e
}

// WithClock returns e reading timestamps from now (for tests).
func (e *Emitter) WithClock(now func() time.Time) *Emitter {
	e.now = now
	return e
}

// Emit writes one data point: the values under the Service dimension and
// dims. It refuses (drops and logs) a point with an unknown dimension name,
// an empty or overlong value, or a value that looks like a person id or
// person key.
func (e *Emitter) Emit(ctx context.Context, dims []Dim, values ...Value) {
	if e == nil || len(values) == 0 {
		return
	}
	all := append([]Dim{{Service, e.service}}, dims...)
	for i, d := range all {
		code, reason := refuse(d)
		if i > 0 && d.Name == Service {
			code, reason = "unknown_dimension", "the emitter sets the service dimension"
		}
		if code != "" {
			e.log.ErrorContext(ctx, "metric data point refused", "metric", values[0].Name, "dimension", d.Name, "reason", reason)
			e.write([]Dim{{Service, DefaultService}, {Reason, code}}, Value{Name: DroppedDataPoints, Unit: Count, Value: 1})
			return
		}
	}
	e.write(all, values...)
}

func (e *Emitter) write(dims []Dim, values ...Value) {
	type metric struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit"`
	}
	type directive struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	names := make([]string, 0, len(dims))
	line := make(map[string]any, len(dims)+len(values)+1)
	for _, d := range dims {
		names = append(names, d.Name)
		line[d.Name] = d.Value
	}
	ms := make([]metric, 0, len(values))
	for _, v := range values {
		ms = append(ms, metric{Name: v.Name, Unit: v.Unit})
		line[v.Name] = v.Value
	}
	line["_aws"] = map[string]any{
		"Timestamp":         e.now().UnixMilli(),
		"CloudWatchMetrics": []directive{{Namespace: e.namespace, Dimensions: [][]string{names}, Metrics: ms}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return // only plain strings and numbers: cannot fail
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(b) // one Write per line, so lines never interleave
}

var (
	personIDShape  = regexp.MustCompile(`[0-9]{11}`)
	personKeyShape = regexp.MustCompile(`[0-9a-fA-F]{64}`)
)

// refuse says why a dimension may not be written (a code for the
// DroppedDataPoints metric and a reason for the log), or "" if it may.
func refuse(d Dim) (code, reason string) {
	switch {
	case !dimensionNames[d.Name]:
		return "unknown_dimension", "unknown dimension name"
	case d.Value == "":
		return "empty_value", "empty value"
	case len(d.Value) > maxValueLen:
		return "value_too_long", "value too long"
	case personIDShape.MatchString(d.Value):
		return "person_id", "value looks like a person id"
	case personKeyShape.MatchString(d.Value):
		return "person_key", "value looks like a person key"
	}
	return "", ""
}

// Request records one HTTP request: Requests and Latency per route key (as
// declared in template.yaml) and status class.
func (e *Emitter) Request(ctx context.Context, route string, status int, took time.Duration) {
	e.Emit(ctx, []Dim{{Route, route}, {StatusClass, statusClass(status)}},
		Value{Requests, Count, 1}, Value{Latency, Milliseconds, float64(took.Microseconds()) / 1000})
}

// Decision records an access decision: Decisions per outcome (allowed or
// denied) and rule. The access API calls it for every decision it makes.
func (e *Emitter) Decision(ctx context.Context, allowed bool, rule string) {
	outcome := "denied"
	if allowed {
		outcome = "allowed"
	}
	e.Emit(ctx, []Dim{{Outcome, outcome}, {Rule, rule}}, Value{Decisions, Count, 1})
}

// SectorDecision records a decision the health sector's systems asked for:
// SectorDecisions per outcome, resource (prescription, summary care record,
// appointment history) and deciding rule. Never the person or the health
// professional.
func (e *Emitter) SectorDecision(ctx context.Context, allowed bool, resource, rule string) {
	outcome := "denied"
	if allowed {
		outcome = "allowed"
	}
	e.Emit(ctx, []Dim{{Outcome, outcome}, {Resource, resource}, {Rule, rule}}, Value{SectorDecisions, Count, 1})
}

// Consent records a consent change: action "set" (give or change) with the
// level now in effect, or "withdraw" (level "none").
func (e *Emitter) Consent(ctx context.Context, action, level string) {
	if level == "" {
		level = "none"
	}
	e.Emit(ctx, []Dim{{Action, action}, {Level, level}}, Value{ConsentChanges, Count, 1})
}

// Notice records a register notice's type and what applying it did.
func (e *Emitter) Notice(ctx context.Context, noticeType, outcome string) {
	e.Emit(ctx, []Dim{{NoticeType, noticeType}, {Outcome, outcome}}, Value{Notices, Count, 1})
}

// Purged records a finished delayed deletion and how many items it deleted.
func (e *Emitter) Purged(ctx context.Context, reason string, items int) {
	e.Emit(ctx, []Dim{{Reason, reason}}, Value{Purges, Count, 1}, Value{ItemsDeleted, Count, float64(items)})
}

// NotDue records a purge message refused because its job is not due yet
// (a redrive or a hand-sent message); nothing was deleted.
func (e *Emitter) NotDue(ctx context.Context) {
	e.Emit(ctx, nil, Value{PurgesNotDue, Count, 1})
}

// SweeperFunction is the Function dimension of the sweeper's metrics.
const SweeperFunction = "sweeper"

// Swept records how many deletion jobs one sweep queued.
func (e *Emitter) Swept(ctx context.Context, queued int) {
	e.Emit(ctx, []Dim{{Function, SweeperFunction}}, Value{JobsQueued, Count, float64(queued)})
}

// Overdue records how many deletion jobs are not done a day after they
// were due. The DeletionJobsOverdueAlarm fires above zero, and when the
// sweeper stops reporting.
func (e *Emitter) Overdue(ctx context.Context, jobs int) {
	e.Emit(ctx, []Dim{{Function, SweeperFunction}}, Value{OverdueJobs, Count, float64(jobs)})
}

// Cold records a function's cold start (its first invocation in a new
// execution environment) under the Function dimension.
func (e *Emitter) Cold(ctx context.Context, function string) {
	e.Emit(ctx, []Dim{{Function, function}}, Value{ColdStart, Count, 1})
}

// Batch records what an SQS consumer was handed and how many messages it
// reported failed (SQS retries them, then moves them to the dead-letter queue).
func (e *Emitter) Batch(ctx context.Context, function string, received, failed int) {
	e.Emit(ctx, []Dim{{Function, function}}, Value{MessagesReceived, Count, float64(received)}, Value{MessagesFailed, Count, float64(failed)})
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}
