package emulator

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns one server per test binary, started on first use. Call
// StopShared from TestMain after m.Run. A missing moto_server fails the
// test: integration tests are never silently skipped.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		var logw io.Writer
		if os.Getenv("MOTO_LOG") != "" {
			logw = os.Stderr
		}
		shared.srv, shared.err = Start(context.Background(), 0, logw)
	})
	if shared.err != nil {
		t.Fatalf("emulator: %v", shared.err)
	}
	return shared.srv
}

// StopShared stops the server Shared started, if any.
func StopShared() {
	shared.srv.Stop()
}
