// Package idchange holds the rules for a person whose national id changes
// (the register's person_id_changed notice, typically a D-number that
// becomes a fødselsnummer): the history of changes, how a change whose new
// id is itself already retired follows the chain to the id in use now, and
// how what was stored under the old id merges into what the new id already
// holds. Notices may arrive in any order, so A→B can come after B→C.
package idchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
)

// Change is one entry of the id history: the old key was changed to To by
// the notice NoticeID, whose event time is At.
type Change struct {
	To       personkey.Key
	At       time.Time
	NoticeID string
	// Moved is set once everything under the old key has moved: until
	// then, other notices about the person wait (ErrMoving).
	Moved bool
}

// History is the record of id changes, old key → new key.
type History interface {
	// ChangedTo returns the change recorded for key, if key is retired.
	ChangedTo(ctx context.Context, key personkey.Key) (Change, bool, error)
	// Record keeps from → c.To, provided target (where the move goes) is
	// not retired meanwhile. It returns ErrConflict if from already has a
	// change to another key, ErrRetiredMeanwhile if target was retired, and
	// nil if from already has this change.
	Record(ctx context.Context, from, target personkey.Key, c Change) error
	// MarkMoved records that everything under from has moved, and ends
	// the move into the target Record named.
	MarkMoved(ctx context.Context, from personkey.Key) error
	// MovingIn reports whether a change that moves data into key has not
	// finished.
	MovingIn(ctx context.Context, key personkey.Key) (bool, error)
}

// Errors of a change that must not be applied. Neither will ever succeed on
// a retry: the notice goes to the dead-letter queue with the reason.
var (
	// ErrCycle: the new id's chain of changes leads back to the old id
	// (X→Y, then Y→X): applying it would move a person onto a retired id.
	ErrCycle = errors.New("the id change would close a cycle of id changes")
	// ErrConflict: the old id was already changed to another id, whose
	// chain leads to a different person than this change's new id.
	ErrConflict = errors.New("the previous id was already changed to a different id")
	// ErrChainTooLong: more than MaxChain changes in a row.
	ErrChainTooLong = fmt.Errorf("the chain of id changes is longer than %d", MaxChain)
)

// Errors that pass: decide again later.
var (
	// ErrRetiredMeanwhile: the target of a change was itself changed
	// between deciding and recording (two changes at once): decide again.
	ErrRetiredMeanwhile = errors.New("the new id was changed meanwhile")
	// ErrMoving: a change on the chain has not finished moving the old
	// id's data; a notice about the person must wait for it, or it would
	// apply to half of the data.
	ErrMoving = errors.New("an id change is still moving the person's data")
)

// Refused reports whether err means a change or notice must never be
// applied (a cycle, a contradiction, a chain too long).
func Refused(err error) bool {
	return errors.Is(err, ErrCycle) || errors.Is(err, ErrConflict) || errors.Is(err, ErrChainTooLong)
}

// Settled is Current for a notice about the person (not a change): it also
// requires every change on the chain, and every change into the key in use
// now, to have finished moving (ErrMoving).
func Settled(ctx context.Context, h History, key personkey.Key) (personkey.Key, error) {
	return walk(ctx, h, key, "", true)
}

// MaxChain bounds how many recorded changes Current follows. A person's id
// changes once or twice in a lifetime; a longer chain is a fault.
const MaxChain = 16

// Current follows the recorded changes from key to the key in use now.
// stop is the old id of the change being applied: reaching it (or any key
// twice) is a cycle.
func Current(ctx context.Context, h History, key, stop personkey.Key) (personkey.Key, error) {
	return walk(ctx, h, key, stop, false)
}

// walk follows the chain from key; settled also requires every change on
// it, and every move into its end, to be finished.
func walk(ctx context.Context, h History, key, stop personkey.Key, settled bool) (personkey.Key, error) {
	seen := map[personkey.Key]bool{stop: true}
	for range MaxChain + 1 {
		if seen[key] {
			return "", ErrCycle
		}
		seen[key] = true
		c, retired, err := h.ChangedTo(ctx, key)
		if err != nil {
			return "", fmt.Errorf("read id history: %w", err)
		}
		if !retired {
			if settled {
				moving, err := h.MovingIn(ctx, key)
				if err != nil {
					return "", fmt.Errorf("read id history: %w", err)
				}
				if moving {
					return "", ErrMoving
				}
			}
			return key, nil
		}
		if settled && !c.Moved {
			return "", ErrMoving
		}
		key = c.To
	}
	return "", ErrChainTooLong
}

// Plan is what applying one change from → to does.
type Plan struct {
	// Target is where the old id's data goes: to, or the id that to was
	// already changed to (the end of its chain).
	Target personkey.Key
	// Record is false when the history already holds this change (a
	// redelivery, or the continuation of a large move).
	Record bool
}

// Decide plans the change from → to against the history. It refuses a
// cycle and a change that contradicts one already recorded for from.
func Decide(ctx context.Context, h History, from, to personkey.Key) (Plan, error) {
	target, err := Current(ctx, h, to, from)
	if err != nil {
		return Plan{}, err
	}
	prior, retired, err := h.ChangedTo(ctx, from)
	if err != nil {
		return Plan{}, fmt.Errorf("read id history: %w", err)
	}
	if !retired {
		return Plan{Target: target, Record: true}, nil
	}
	if prior.To != to {
		// from was changed before, to another id: the same person only if
		// both chains end at the same id now.
		other, err := Current(ctx, h, prior.To, from)
		if err != nil && !Refused(err) {
			return Plan{}, err
		}
		if err != nil || other != target {
			return Plan{}, ErrConflict
		}
	}
	return Plan{Target: target}, nil
}

// MovedWins reports whether a record moved from the old id replaces the
// one the new id already holds: the newest change wins; a tie, or a record
// whose time is unknown, keeps what the new id holds.
func MovedWins(moved, existing time.Time) bool {
	return !moved.IsZero() && moved.After(existing)
}

// MergeKin merges the next of kin stored under the old id into the new
// id's: the union of both lists (the same person, by name and phone, once),
// with one closest kept, the closest of the list changed last. Nobody is
// dropped, even past MaxNextOfKin: the person removes whom they choose.
// The version is above both, so an ETag read from either list is stale.
func MergeKin(moved, existing profile.Kin) profile.Kin {
	newer, older := existing, moved
	if MovedWins(moved.UpdatedAt, existing.UpdatedAt) {
		newer, older = moved, existing
	}
	out := profile.Kin{Items: slices.Clone(newer.Items), Closest: newer.Closest,
		Version: max(moved.Version, existing.Version) + 1, UpdatedAt: newer.UpdatedAt}
	for _, n := range older.Items {
		if slices.ContainsFunc(out.Items, func(o profile.NextOfKin) bool {
			return o.ID == n.ID || (o.Phone == n.Phone && strings.EqualFold(o.Name, n.Name))
		}) {
			continue
		}
		out.Items = append(out.Items, n)
	}
	if out.Closest == "" && len(out.Items) > 0 {
		// The newer list was empty: the older list's closest, unless it
		// was dropped as a duplicate (then the first one kept).
		out.Closest = out.Items[0].ID
		if slices.ContainsFunc(out.Items, func(n profile.NextOfKin) bool { return n.ID == older.Closest }) {
			out.Closest = older.Closest
		}
	}
	return out
}
