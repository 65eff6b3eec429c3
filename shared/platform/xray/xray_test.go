package xray_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"privacycore/shared/platform/xray"
)

const (
	root   = "1-67891233-abcdef012345678912345678"
	parent = "53995c3f42cd8ad8"
)

// lambdaContext is what aws-lambda-go hands a traced invocation.
func lambdaContext(sampled string) context.Context {
	//lint:ignore SA1029 aws-lambda-go uses this plain string key; we read it the same way.
	return context.WithValue(context.Background(), "x-amzn-trace-id", "Root="+root+";Parent="+parent+";Sampled="+sampled)
}

// service answers every DynamoDB call with status and body, and remembers
// the trace headers it received.
func service(t *testing.T, status int, body string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Amzn-Trace-Id"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-RequestId", "REQ123")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

func client(url string, tr *xray.Tracer) *dynamodb.Client {
	cfg := aws.Config{
		Region:       "eu-north-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
	cfg.APIOptions = append(cfg.APIOptions, tr.AddTo)
	return dynamodb.NewFromConfig(cfg)
}

type sink struct {
	mu   sync.Mutex
	docs []xray.Subsegment
	t    *testing.T
}

func (s *sink) send(b []byte) {
	head, doc, ok := strings.Cut(string(b), "\n")
	if !ok || head != `{"format":"json","version":1}` {
		s.t.Errorf("daemon message %q: want the JSON header line first", b)
		return
	}
	var sub xray.Subsegment
	if err := json.Unmarshal([]byte(doc), &sub); err != nil {
		s.t.Errorf("subsegment %q: %v", doc, err)
		return
	}
	s.mu.Lock()
	s.docs = append(s.docs, sub)
	s.mu.Unlock()
}

func TestSubsegments(t *testing.T) {
	tests := []struct {
		name                        string
		sampled                     string
		status                      int
		body                        string
		wantDocs                    int
		wantStatus, wantRetries     int
		wantError, wantThrottle     bool
		wantFault, wantCallerErrors bool
	}{
		{name: "success", sampled: "1", status: 200, body: `{}`, wantDocs: 1, wantStatus: 200},
		{name: "not sampled", sampled: "0", status: 200, body: `{}`, wantDocs: 0},
		{name: "client error", sampled: "1", status: 400, body: `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}`,
			wantDocs: 1, wantStatus: 400, wantError: true, wantCallerErrors: true},
		{name: "throttled, retried", sampled: "1", status: 400, body: `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}`,
			wantDocs: 1, wantStatus: 400, wantRetries: 2, wantError: true, wantThrottle: true, wantCallerErrors: true},
		{name: "server fault, retried", sampled: "1", status: 500, body: `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"oops"}`,
			wantDocs: 1, wantStatus: 500, wantRetries: 2, wantFault: true, wantCallerErrors: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := service(t, tt.status, tt.body)
			s := &sink{t: t}
			db := client(srv.URL, &xray.Tracer{Send: s.send, Now: time.Now})
			_, err := db.DescribeTable(lambdaContext(tt.sampled), &dynamodb.DescribeTableInput{TableName: aws.String("t")})
			if gotErr := err != nil; gotErr != tt.wantCallerErrors {
				t.Fatalf("got error %v, want error: %v", err, tt.wantCallerErrors)
			}
			if len(s.docs) != tt.wantDocs {
				t.Fatalf("got %d subsegments, want %d", len(s.docs), tt.wantDocs)
			}
			if tt.wantDocs == 0 {
				for _, h := range seen() {
					if h != "" && strings.Contains(h, "Sampled=1") {
						t.Errorf("unsampled call sent trace header %q", h)
					}
				}
				return
			}
			d := s.docs[0]
			if d.Name != "DynamoDB" || d.AWS.Operation != "DescribeTable" || d.AWS.Region != "eu-north-1" || d.Namespace != "aws" || d.Type != "subsegment" {
				t.Errorf("got name %q operation %q region %q namespace %q type %q, want DynamoDB DescribeTable eu-north-1 aws subsegment",
					d.Name, d.AWS.Operation, d.AWS.Region, d.Namespace, d.Type)
			}
			if d.TraceID != root || d.ParentID != parent || len(d.ID) != 16 {
				t.Errorf("got trace %q parent %q id %q, want %q %q and a 16-hex id", d.TraceID, d.ParentID, d.ID, root, parent)
			}
			if d.AWS.RequestID != "REQ123" {
				t.Errorf("request id: got %q, want REQ123", d.AWS.RequestID)
			}
			if d.HTTP == nil || d.HTTP.Response.Status != tt.wantStatus {
				t.Errorf("http: got %+v, want status %d", d.HTTP, tt.wantStatus)
			}
			if d.AWS.Retries != tt.wantRetries {
				t.Errorf("retries: got %d, want %d", d.AWS.Retries, tt.wantRetries)
			}
			if d.Error != tt.wantError || d.Throttle != tt.wantThrottle || d.Fault != tt.wantFault {
				t.Errorf("flags: got error %v throttle %v fault %v, want %v %v %v", d.Error, d.Throttle, d.Fault, tt.wantError, tt.wantThrottle, tt.wantFault)
			}
			if d.EndTime < d.StartTime || d.StartTime == 0 {
				t.Errorf("times: start %f end %f", d.StartTime, d.EndTime)
			}
			for _, h := range seen() {
				if want := "Root=" + root + ";Parent=" + d.ID + ";Sampled=1"; h != want {
					t.Errorf("downstream trace header: got %q, want %q", h, want)
				}
			}
		})
	}
}

func TestInstrument(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"locally: no daemon", map[string]string{}, false},
		{"disabled", map[string]string{"AWS_XRAY_DAEMON_ADDRESS": pc.LocalAddr().String(), "AWS_XRAY_SDK_DISABLED": "TRUE"}, false},
		{"lambda", map[string]string{"AWS_XRAY_DAEMON_ADDRESS": pc.LocalAddr().String()}, true},
		{"lambda, tcp and udp", map[string]string{"AWS_XRAY_DAEMON_ADDRESS": "tcp:127.0.0.1:1 udp:" + pc.LocalAddr().String()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg aws.Config
			if got := xray.Instrument(&cfg, func(k string) string { return tt.env[k] }); got != tt.want {
				t.Fatalf("Instrument: got %v, want %v", got, tt.want)
			}
			if got := len(cfg.APIOptions) > 0; got != tt.want {
				t.Fatalf("APIOptions added: got %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			srv, _ := service(t, 200, `{}`)
			cfg.Region, cfg.BaseEndpoint = "eu-north-1", aws.String(srv.URL)
			cfg.Credentials = credentials.NewStaticCredentialsProvider("test", "test", "")
			if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(lambdaContext("1"), &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
				t.Fatal(err)
			}
			_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64<<10)
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("daemon got nothing: %v", err)
			}
			if got := string(buf[:n]); !strings.HasPrefix(got, `{"format":"json","version":1}`+"\n") || !strings.Contains(got, `"operation":"DescribeTable"`) {
				t.Errorf("daemon got %q", got)
			}
		})
	}
}
