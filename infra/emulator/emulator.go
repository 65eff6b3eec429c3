// Package emulator starts and stops moto_server, the local emulation of the
// DynamoDB and SQS APIs, on a free loopback port, behind a proxy that gives
// DynamoDB requests DynamoDB's per-request atomicity (see proxy).
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Fixed credentials and region the emulator accepts.
const (
	AccessKey = "test"
	SecretKey = "test"
	Region    = "eu-north-1"
	AccountID = "123456789012"
)

// Server is a running moto_server and the proxy in front of it.
type Server struct {
	// Endpoint is the proxy's URL: every client talks to moto through it.
	Endpoint string
	// Moto is moto_server's own URL, without the proxy's serialisation.
	Moto  string
	cmd   *exec.Cmd
	done  chan struct{}
	proxy *proxy
}

// Start runs moto_server on 127.0.0.1 on a free port and the proxy in front
// of it on port (a free port if 0), and waits until it answers. Output goes
// to logw (may be nil). The server dies with this process even if Stop is
// never called (Linux Pdeathsig).
func Start(ctx context.Context, port int, logw io.Writer) (*Server, error) {
	s, err := startMoto(ctx, logw)
	if err != nil {
		return nil, err
	}
	if s.proxy, err = startProxy(port, s.Moto); err != nil {
		s.Stop()
		return nil, err
	}
	s.Endpoint = s.proxy.URL()
	return s, nil
}

func startMoto(ctx context.Context, logw io.Writer) (*Server, error) {
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		bin = "moto_server"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("moto_server not found (pip install 'moto[server]'): %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := start(ctx, bin, p, logw)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, bin string, port int, logw io.Writer) (*Server, error) {
	if logw == nil {
		logw = io.Discard
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{Moto: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Moto+"/moto-api/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			// The answer must come from our process, not from another
			// emulator that took the port first.
			select {
			case <-s.done:
				return nil, errors.New("moto_server exited (port taken by another server)")
			case <-time.After(200 * time.Millisecond):
			}
			return s, nil
		}
		select {
		case <-s.done:
			return nil, errors.New("moto_server exited before it was ready (port taken?)")
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("moto_server did not become ready within 60s")
		}
	}
}

// Stop ends the server and every process it started.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	if s.proxy != nil {
		s.proxy.close()
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Env returns the environment variables that point the AWS SDK at the server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":      s.Endpoint,
		"AWS_ACCESS_KEY_ID":     AccessKey,
		"AWS_SECRET_ACCESS_KEY": SecretKey,
		"AWS_REGION":            Region,
	}
}

// QueueURL returns the URL moto gives a queue of this name.
func (s *Server) QueueURL(name string) string {
	return s.Endpoint + "/" + AccountID + "/" + name
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
