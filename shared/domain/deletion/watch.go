package deletion

import (
	"context"
	"fmt"
	"time"
)

// OverdueAfter is how long after its due time a job that is not done
// counts as overdue: the sweeper runs hourly and a purge takes seconds, so
// a day means something is stuck (the sweeper, the purge queue, a message
// in the dead-letter queue) and an operator must look.
const OverdueAfter = 24 * time.Hour

// OpenStatuses are the statuses of a job that is not finished: done and
// cancelled are final.
var OpenStatuses = []Status{StatusPending, StatusQueued, StatusPurging}

// OpenJobs counts unfinished jobs by due time. It must read only the jobs it
// counts (a Query on an index keyed by status and due time), never Scan.
type OpenJobs interface {
	// CountOpen counts jobs in one of statuses that were due at or before t.
	CountOpen(ctx context.Context, statuses []Status, t time.Time) (int, error)
}

// Overdue returns how many jobs are pending, queued or purging although
// they were due more than OverdueAfter before now.
func Overdue(ctx context.Context, jobs OpenJobs, now time.Time) (int, error) {
	n, err := jobs.CountOpen(ctx, OpenStatuses, now.Add(-OverdueAfter))
	if err != nil {
		return 0, fmt.Errorf("count overdue jobs: %w", err)
	}
	return n, nil
}

// PurgeMetrics is told of every finished purge (package metrics implements it).
type PurgeMetrics interface {
	Purged(ctx context.Context, reason string, items int)
	// NotDue counts a purge message refused because its job is not due.
	NotDue(ctx context.Context)
}
