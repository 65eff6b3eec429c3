// Package agejob tidies parents' access as children age: at 16 the parents'
// access records are deleted, at 12 the restriction is written to the
// child's usage log. Access decisions compute ages themselves at decision
// time, so nothing is ever wrong while this job is late; it only makes the
// stored state match. It runs daily and catches up on missed days.
package agejob

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Link is one parent-child relation found by birthday.
type Link struct {
	Parent, Child personkey.Key
}

// Store is what the job needs.
type Store interface {
	// TurningOn lists the parental links of children turning age (12 or 16) on day.
	TurningOn(ctx context.Context, age int, day nin.Date) ([]Link, error)
	EndParent(ctx context.Context, parent, child personkey.Key) error
	// Note writes an idempotent entry (same id, same item) to the child's usage log.
	Note(ctx context.Context, child personkey.Key, id, kind string, at time.Time) error
	// Cursor is the last day fully processed; ok is false before the first run.
	Cursor(ctx context.Context) (day nin.Date, ok bool, err error)
	SetCursor(ctx context.Context, day nin.Date) error
}

// FirstRunLookback is how far back the first run starts.
const FirstRunLookback = 31

// Job is the daily age-transition run.
type Job struct {
	Store Store
	Now   func() time.Time
	Log   *slog.Logger
}

// Summary says what a run did.
type Summary struct {
	Days, Ended, Restricted int
}

// Run processes every day from the one after the cursor through today
// (Europe/Oslo), so missed days are caught up; processing a day twice has
// one effect.
func (j *Job) Run(ctx context.Context) (Summary, error) {
	today := clock.DateOf(j.Now())
	from := addDays(today, -FirstRunLookback)
	if last, ok, err := j.Store.Cursor(ctx); err != nil {
		return Summary{}, err
	} else if ok {
		from = addDays(last, 1)
	}
	var sum Summary
	for day := from; !after(day, today); day = addDays(day, 1) {
		at := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, clock.Oslo)
		ended, err := j.Store.TurningOn(ctx, 16, day)
		if err != nil {
			return sum, fmt.Errorf("find children turning 16 on %s: %w", day, err)
		}
		for _, l := range ended {
			if err := j.Store.EndParent(ctx, l.Parent, l.Child); err != nil {
				return sum, fmt.Errorf("end parental access: %w", err)
			}
			if err := j.Store.Note(ctx, l.Child, "age16-"+string(l.Parent)[:16], "parent_access_ended", at); err != nil {
				return sum, err
			}
			sum.Ended++
		}
		restricted, err := j.Store.TurningOn(ctx, 12, day)
		if err != nil {
			return sum, fmt.Errorf("find children turning 12 on %s: %w", day, err)
		}
		for _, l := range restricted {
			if err := j.Store.Note(ctx, l.Child, "age12-"+string(l.Parent)[:16], "parent_access_restricted", at); err != nil {
				return sum, err
			}
			sum.Restricted++
		}
		if err := j.Store.SetCursor(ctx, day); err != nil {
			return sum, err
		}
		sum.Days++
	}
	j.Log.InfoContext(ctx, "age transitions done", "days", sum.Days, "parentAccessEnded", sum.Ended, "restricted", sum.Restricted)
	return sum, nil
}

func addDays(d nin.Date, n int) nin.Date {
	t := time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC)
	return nin.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
}

func after(a, b nin.Date) bool {
	return a.String() > b.String()
}
