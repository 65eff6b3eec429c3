package persontjenesten_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"privacycore/shared/domain/registerfeed"
	"privacycore/shared/registers/persontjenesten"
)

// script answers requests in turn with the given statuses.
type script struct {
	statuses   []int
	retryAfter string
	calls      int
}

func (s *script) Do(_ context.Context, _ *http.Request) (*http.Response, error) {
	st := s.statuses[min(s.calls, len(s.statuses)-1)]
	s.calls++
	h := http.Header{}
	if st == http.StatusTooManyRequests && s.retryAfter != "" {
		h.Set("Retry-After", s.retryAfter)
	}
	return &http.Response{StatusCode: st, Header: h, Body: io.NopCloser(strings.NewReader(`{"results":[]}`))}, nil
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name       string
		statuses   []int
		retryAfter string
		deadline   time.Duration
		wantCalls  int
		wantWaits  []time.Duration
		wantErr    error
	}{
		{"429 then 200 waits Retry-After", []int{429, 200}, "3", time.Minute, 2, []time.Duration{3 * time.Second}, nil},
		{"5xx backs off, doubling", []int{503, 502, 200}, "", time.Minute, 3, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, nil},
		{"a wait beyond the deadline ends the call", []int{429}, "120", 10 * time.Second, 1, nil, registerfeed.ErrThrottled},
		{"retries run out", []int{500}, "", time.Minute, 5, nil, persontjenesten.StatusError{Status: 500}},
		{"4xx is not retried", []int{403}, "", time.Minute, 1, nil, persontjenesten.StatusError{Status: 403}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{statuses: tc.statuses, retryAfter: tc.retryAfter}
			c := persontjenesten.New("http://register.invalid", s)
			var waits []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			_, err := c.Events(ctx, 1, registerfeed.EventTypes)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if s.calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", s.calls, tc.wantCalls)
			}
			if tc.wantWaits != nil && (len(waits) != len(tc.wantWaits) || waits[0] != tc.wantWaits[0] || waits[len(waits)-1] != tc.wantWaits[len(waits)-1]) {
				t.Errorf("waits = %v, want %v", waits, tc.wantWaits)
			}
		})
	}
}
