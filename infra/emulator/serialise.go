package emulator

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// dynamoTarget prefixes the X-Amz-Target header of every DynamoDB API call
// (DynamoDB Streams calls use another prefix).
const dynamoTarget = "DynamoDB_20120810."

// proxy stands in front of moto_server and lets one DynamoDB request
// through at a time, while SQS, SSM and everything else pass concurrently.
//
// DynamoDB applies each request atomically: a conditional write, or all of a
// TransactWriteItems, is checked and applied as one step against every other
// request on the same items. moto does not: it checks a condition and then
// writes without a lock, so under concurrent requests two conditional puts
// on one item can both pass, and of 20 concurrent transactions on one item
// one is reported the winner while the items of six "losers" are written
// anyway (../shared/tooling.md). Serialising DynamoDB requests gives the
// local stack DynamoDB's per-request atomicity, so tests can race real
// parallel clients and trust what they see. It costs no throughput worth
// having: moto handles one request at a time anyway (one Python process).
// Reads are serialised too; the races tests care about are between what a
// client read and what it then writes, and those stay open, because a
// client's read and its write are separate requests.
//
// SQS must not be serialised: long polls (ReceiveMessage with a wait time)
// would block every other request for up to 20 seconds.
type proxy struct {
	srv *http.Server
	ln  net.Listener
}

// startProxy listens on 127.0.0.1:port (a free port if 0) and forwards to upstream.
func startProxy(port int, upstream string) (*proxy, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("emulator proxy: %w", err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("emulator proxy: listen: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// moto builds queue URLs from the Host header: keep the
			// proxy's, so every client keeps talking through it.
			r.Out.Host = r.In.Host
		},
		Transport: &serialDynamo{next: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	p := &proxy{srv: &http.Server{Handler: rp, ReadHeaderTimeout: 30 * time.Second}, ln: ln}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy's base URL.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) close() { _ = p.srv.Close() }

// serialDynamo is a RoundTripper that holds one lock over each DynamoDB
// request, from sending it until its whole answer is read, so moto has
// finished one request before it starts the next.
type serialDynamo struct {
	mu   sync.Mutex
	next http.RoundTripper
}

func (s *serialDynamo) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), dynamoTarget) {
		return s.next.RoundTrip(r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("emulator proxy: read DynamoDB answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
