// Package emulator starts and stops moto_server, the local emulation of the
// DynamoDB and SQS APIs, on a free loopback port, behind a proxy that gives
// DynamoDB requests DynamoDB's per-request atomicity (see proxy). moto runs
// through a launcher that makes a transaction cost what it touches rather
// than the whole table (see motoLauncher).
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
	"strings"
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
	Moto string
	// Patched: moto runs with item-level transaction rollback (see
	// motoLauncher); false when plain moto_server runs (MOTO_PLAIN set, no
	// python found, or a moto the launcher cannot patch).
	Patched bool
	cmd     *exec.Cmd
	done    chan struct{}
	proxy   *proxy
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
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("moto_server not found (pip install 'moto[server]'): %w", err)
	}
	plain := func(port int) []string { return []string{path, "-H", "127.0.0.1", "-p", fmt.Sprint(port)} }
	argv, patched := plain, false
	py, ok := python(path)
	switch {
	case os.Getenv("MOTO_PLAIN") != "":
		// Unpatched moto, to compare (see motoLauncher).
	case !ok:
		fmt.Fprintf(os.Stderr, "emulator: WARNING: no python for %s; running plain moto_server (transactions cost the whole table)\n", path)
	default:
		argv, patched = func(port int) []string {
			return []string{py, "-c", motoLauncher, "-H", "127.0.0.1", "-p", fmt.Sprint(port)}
		}, true
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := start(ctx, argv(p), p, logw)
		var pe *patchError
		if errors.As(err, &pe) {
			fmt.Fprintf(os.Stderr, "emulator: WARNING: %v; running plain moto_server (transactions cost the whole table)\n", pe)
			argv, patched = plain, false
			attempt--
			continue
		}
		if err == nil {
			s.Patched = patched
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// patchError: the launcher found a moto it cannot patch.
type patchError struct{ reason string }

func (e *patchError) Error() string { return "moto launcher: " + e.reason }

// headWriter keeps the first bytes written to it (a launcher's complaint),
// so a long-running server's log does not grow in memory.
type headWriter struct {
	buf []byte
}

func (h *headWriter) Write(p []byte) (int, error) {
	if n := 4096 - len(h.buf); n > 0 {
		h.buf = append(h.buf, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func start(ctx context.Context, argv []string, port int, logw io.Writer) (*Server, error) {
	if logw == nil {
		logw = io.Discard
	}
	head := &headWriter{}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logw, io.MultiWriter(logw, head)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{Moto: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	exited := func() error {
		if cmd.ProcessState.ExitCode() == launchPatchFailed {
			return &patchError{reason: strings.TrimSpace(string(head.buf))}
		}
		return errors.New("moto_server exited before it was ready (port taken?)")
	}
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
			return nil, exited()
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
