// Package xray traces AWS SDK calls as X-Ray subsegments of the Lambda
// function's segment, without the X-Ray SDK.
//
// With Tracing: Active, Lambda records a segment for every invocation and
// hands the function its trace header (Root, Parent, Sampled) on the
// context; the X-Ray daemon listens on AWS_XRAY_DAEMON_ADDRESS. The official
// aws-xray-sdk-go would take each binary from about 9 MB to about 22 MB (it
// links grpc, fasthttp and the v1 SDK), over our 10 MB budget, so this
// package does the one thing we need from it: an SDK middleware that sends
// each call (service, operation, region, request id, status, retries) as a
// subsegment document over UDP, the documented daemon protocol the SDK uses.
//
// Where there is no daemon address (locally, in tests) or AWS_XRAY_SDK_DISABLED
// is true, Instrument adds nothing; an unsampled request sends nothing; a
// send that fails is dropped silently, as the X-Ray SDK does.
package xray

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// lambdaTraceKey is the context key aws-lambda-go stores the invocation's
// trace header under.
const lambdaTraceKey = "x-amzn-trace-id"

// header is the daemon protocol's first line.
const header = `{"format":"json","version":1}` + "\n"

// Instrument adds the tracing middleware to cfg when getenv names an X-Ray
// daemon and tracing is not disabled. It reports whether it did.
func Instrument(cfg *aws.Config, getenv func(string) string) bool {
	if strings.EqualFold(getenv("AWS_XRAY_SDK_DISABLED"), "true") {
		return false
	}
	addr := daemonUDP(getenv("AWS_XRAY_DAEMON_ADDRESS"))
	if addr == "" {
		return false
	}
	t := &Tracer{Send: udpSender(addr), Now: time.Now}
	cfg.APIOptions = append(cfg.APIOptions, t.AddTo)
	return true
}

// Tracer records SDK calls as subsegments.
type Tracer struct {
	// Send delivers one daemon message (header and document).
	Send func([]byte)
	Now  func() time.Time
}

// Subsegment is the part of an X-Ray subsegment document we write.
type Subsegment struct {
	Name      string     `json:"name"`
	ID        string     `json:"id"`
	TraceID   string     `json:"trace_id"`
	ParentID  string     `json:"parent_id"`
	Type      string     `json:"type"`
	StartTime float64    `json:"start_time"`
	EndTime   float64    `json:"end_time"`
	Namespace string     `json:"namespace"`
	AWS       awsBlock   `json:"aws"`
	HTTP      *httpBlock `json:"http,omitempty"`
	Error     bool       `json:"error,omitempty"`
	Throttle  bool       `json:"throttle,omitempty"`
	Fault     bool       `json:"fault,omitempty"`
}

type httpBlock struct {
	Response struct {
		Status int `json:"status"`
	} `json:"response"`
}

type awsBlock struct {
	Operation string `json:"operation"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Retries   int    `json:"retries"`
}

// call is what the deserialize middleware learns about each attempt.
type call struct {
	mu       sync.Mutex
	sub      Subsegment
	attempts int
	status   int
}

type callKey struct{}

// AddTo adds the middleware to an SDK operation's stack (an aws.Config APIOption).
func (t *Tracer) AddTo(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("PrivacyCoreXRay", t.initialize), middleware.After); err != nil {
		return err
	}
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("PrivacyCoreXRayAttempt", attempt), middleware.Before)
}

// initialize times the whole call, retries included.
func (t *Tracer) initialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	tr, ok := parseTraceHeader(traceHeader(ctx))
	if !ok {
		return next.HandleInitialize(ctx, in)
	}
	c := &call{sub: Subsegment{
		Name: awsmiddleware.GetServiceID(ctx), ID: newID(), TraceID: tr.root, ParentID: tr.parent,
		Type: "subsegment", Namespace: "aws", StartTime: seconds(t.Now()),
		AWS: awsBlock{Operation: awsmiddleware.GetOperationName(ctx), Region: awsmiddleware.GetRegion(ctx)},
	}}
	out, md, err := next.HandleInitialize(context.WithValue(ctx, callKey{}, c), in)
	c.mu.Lock()
	s := c.sub
	s.EndTime = seconds(t.Now())
	s.AWS.Retries = max(c.attempts-1, 0)
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
		s.AWS.RequestID = id
	}
	status := c.status
	c.mu.Unlock()
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		status = re.HTTPStatusCode()
	}
	if status > 0 {
		s.HTTP = &httpBlock{}
		s.HTTP.Response.Status = status
	}
	switch {
	case status == 429 || isThrottle(err):
		s.Error, s.Throttle = true, true
	case status >= 500 || (err != nil && status == 0):
		s.Fault = true
	case status >= 400 || err != nil:
		s.Error = true
	}
	if b, jerr := json.Marshal(s); jerr == nil {
		t.Send(append([]byte(header), b...))
	}
	return out, md, err
}

// attempt counts attempts, records the last status and passes the trace on
// to the service (SQS carries it to the consumer of the message).
func attempt(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok {
		return next.HandleDeserialize(ctx, in)
	}
	c.mu.Lock()
	c.attempts++
	down := "Root=" + c.sub.TraceID + ";Parent=" + c.sub.ID + ";Sampled=1"
	c.mu.Unlock()
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		req.Header.Set("X-Amzn-Trace-Id", down)
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
		c.mu.Lock()
		c.status = resp.StatusCode
		c.mu.Unlock()
	}
	return out, md, err
}

type trace struct{ root, parent string }

// traceHeader returns the invocation's trace header: aws-lambda-go puts it
// on the context (and in _X_AMZN_TRACE_ID, which is per process).
func traceHeader(ctx context.Context) string {
	if v, ok := ctx.Value(lambdaTraceKey).(string); ok && v != "" {
		return v
	}
	return os.Getenv("_X_AMZN_TRACE_ID")
}

// parseTraceHeader reads "Root=1-…;Parent=…;Sampled=1"; ok is false unless
// the request is sampled and has a root and a parent.
func parseTraceHeader(h string) (trace, bool) {
	var t trace
	sampled := false
	for _, part := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			t.root = v
		case "Parent":
			t.parent = v
		case "Sampled":
			sampled = v == "1"
		}
	}
	return t, sampled && t.root != "" && t.parent != ""
}

func isThrottle(err error) bool {
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.ErrorCode() {
	case "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "Throttling", "TooManyRequestsException":
		return true
	}
	return false
}

// daemonUDP returns the UDP address in AWS_XRAY_DAEMON_ADDRESS, which is
// "host:port" or "tcp:host:port udp:host:port".
func daemonUDP(v string) string {
	for _, f := range strings.Fields(v) {
		if a, ok := strings.CutPrefix(f, "udp:"); ok {
			return a
		}
		if !strings.Contains(f, "tcp:") {
			return f
		}
	}
	return ""
}

func udpSender(addr string) func([]byte) {
	var (
		once sync.Once
		conn net.Conn
	)
	return func(b []byte) {
		once.Do(func() { conn, _ = net.Dial("udp", addr) })
		if conn != nil {
			_, _ = conn.Write(b)
		}
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func seconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }
