package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/infra/stack"
)

// HTTPEvent loads an API Gateway HTTP API event from events/, the same
// files `sam local invoke -e` takes.
func HTTPEvent(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	LoadEvent(t, name, &ev)
	return ev
}

// LoadEvent decodes events/<name> into v.
func LoadEvent(t testing.TB, name string, v any) {
	t.Helper()
	tmpl, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(tmpl), "events", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
}

// Clock is a test clock that moves forward a little on every reading, so
// events recorded one after another have distinct, ordered times.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewClock returns a clock starting at start that advances step per reading.
func NewClock(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now returns the current test time and advances it by the step.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
