package localrun

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// MaxClockOffset is how far ahead of real time the local clock may be moved.
// It keeps every reading far from time.Time's limits.
const MaxClockOffset = 100 * 365 * 24 * time.Hour

// ErrClockBackwards is returned for a negative advance: the clock only moves forward.
var ErrClockBackwards = errors.New("the local clock only moves forward")

// Clock is the time every locally run function reads (wire.Env.Now): real
// time plus an offset the developer can advance, never reduce, so that a
// 30-day deletion delay can be shown in seconds. It is safe for concurrent
// use; the zero value is real time.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	base   func() time.Time // nil means time.Now
}

// NewClock returns a clock over base (nil means time.Now) with no offset.
func NewClock(base func() time.Time) *Clock { return &Clock{base: base} }

// Now returns the base time plus the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	if c.base == nil {
		return time.Now().Add(off)
	}
	return c.base().Add(off)
}

// Offset returns how far ahead of the base time the clock is.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// Advance moves the clock forward by d and returns the new offset. A
// negative d, or one that would put the clock more than MaxClockOffset
// ahead, is an error and leaves the clock as it was.
func (c *Clock) Advance(d time.Duration) (time.Duration, error) {
	if d < 0 {
		return 0, fmt.Errorf("advance %s: %w", d, ErrClockBackwards)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > MaxClockOffset-c.offset {
		return 0, fmt.Errorf("advance %s: the clock would be more than %s ahead of real time", d, MaxClockOffset)
	}
	c.offset += d
	return c.offset, nil
}
