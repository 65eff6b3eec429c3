package main

import (
	"testing"

	"privacycore/infra/localrun"
	"privacycore/shared/wire"
)

func TestDescribeRun(t *testing.T) {
	tests := []struct {
		name string
		in   localrun.TriggerResult
		want string
	}{
		{"counts in name order", localrun.TriggerResult{Function: "SweeperFunction", OK: true, RequestID: "local-1", Result: wire.ScheduleResult{"overdueJobs": 0, "jobsQueued": 2}},
			"SweeperFunction ran (request local-1): jobsQueued=2 overdueJobs=0"},
		{"no result", localrun.TriggerResult{Function: "F", OK: true, RequestID: "local-2"}, "F ran (request local-2): it reported nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeRun(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
