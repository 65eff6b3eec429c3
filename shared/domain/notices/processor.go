package notices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"privacycore/shared/domain/idchange"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Outcome is what applying a notice did; it is logged and kept in the ledger.
type Outcome string

// The outcomes.
const (
	OutcomeDuplicate             Outcome = "duplicate"
	OutcomeDeathRecorded         Outcome = "death_recorded"
	OutcomeDeathAlreadyRecorded  Outcome = "death_already_recorded"
	OutcomeDeathAnnulledEarlier  Outcome = "death_annulled_before_arrival"
	OutcomeAnnulled              Outcome = "death_annulled"
	OutcomeAnnulledAfterPurge    Outcome = "death_annulled_after_purge"
	OutcomeAnnulmentBeforeDeath  Outcome = "annulment_recorded_before_death"
	OutcomeAlreadyAnnulled       Outcome = "death_already_annulled"
	OutcomeParentSet             Outcome = "parental_responsibility_set"
	OutcomeParentEnded           Outcome = "parental_responsibility_ended"
	OutcomeFosterSet             Outcome = "foster_care_set"
	OutcomeFosterEnded           Outcome = "foster_care_ended"
	OutcomeIgnoredDeceased       Outcome = "ignored_person_deceased"
	OutcomePersonMoved           Outcome = "person_id_changed"
	OutcomePersonMoveContinues   Outcome = "person_id_change_continues"
	OutcomePersonMovedByChain    Outcome = "person_id_changed_along_chain"
	OutcomeWaitingForIDChange    Outcome = "waiting_for_id_change"
	OutcomeDeathAlreadyDifferent Outcome = "ignored_other_death_registered"
)

// Ledger remembers which notices were applied, for longer than any
// redelivery or replay window (see LedgerTTL).
type Ledger interface {
	Processed(ctx context.Context, noticeID string) (bool, error)
	Record(ctx context.Context, noticeID string, t Type, o Outcome, at time.Time) error
}

// LedgerTTL is how long a processed notice id is remembered.
const LedgerTTL = 400 * 24 * time.Hour

// Deaths keeps the death marker and its deletion job.
type Deaths interface {
	// AnnulDeath cancels the death and its job if the job has not started.
	AnnulDeath(ctx context.Context, key personkey.Key, deathNoticeID, annulNoticeID string, at time.Time) (Outcome, error)
	// Deceased reports whether a death is registered (pending or purged).
	Deceased(ctx context.Context, key personkey.Key) (bool, error)
}

// Relations stores parental responsibility, one item on each side.
type Relations interface {
	SetParent(ctx context.Context, parent, child personkey.Key, childBirth nin.Date, since time.Time) error
	SetFoster(ctx context.Context, parent, child personkey.Key, childBirth nin.Date, since time.Time) error
	EndParentAt(ctx context.Context, parent, child personkey.Key, at time.Time) error
	EndFosterAt(ctx context.Context, parent, child personkey.Key, at time.Time) error
}

// Mover moves everything stored under one person key to another.
type Mover interface {
	// MovePerson moves items until the time until (zero: no limit);
	// Done is false when it stopped with items left to move. Calling it
	// again goes on where it stopped (the items still under from are what
	// is left). An item whose sort key the new key already holds is merged
	// by the rules of package idchange, never dropped unseen: Merged
	// counts them.
	MovePerson(ctx context.Context, from, to personkey.Key, until time.Time) (MoveResult, error)
}

// MoveResult is what one call of MovePerson did.
type MoveResult struct {
	Moved  int // items now under the new key, merged ones included
	Merged int // items the new key already held, merged by rule
	Done   bool
}

// Requeuer sends a notice to the notice queue again: the continuation of a
// person-id move too large for one invocation. The notice is recorded in
// the ledger only when the move is done, so the copy applies again and
// moves on from what is left.
type Requeuer interface {
	// Requeue sends body again, to be delivered after delay.
	Requeue(ctx context.Context, body []byte, delay time.Duration) error
}

// WaitForMove is how long a notice about a person waits while an id change
// is still moving the person's data (idchange.ErrMoving) before it is tried
// again.
const WaitForMove = 60 * time.Second

// DefaultMoveSlice is how long one invocation moves items before it
// requeues the notice (the notice worker's timeout is 29 s).
const DefaultMoveSlice = 15 * time.Second

// Processor applies register notices exactly once.
type Processor struct {
	Keys         *personkey.Keyer
	Ledger       Ledger
	Deaths       Deaths
	DeathNotices DeathNotices
	Relations    Relations
	Mover        Mover
	// IDs is the history of id changes (old key → new key).
	IDs idchange.History
	// Requeue, if set, takes the continuation of a move that did not finish
	// within MoveSlice (0: DefaultMoveSlice); without it a move runs to the end.
	Requeue   Requeuer
	MoveSlice time.Duration
	Now       func() time.Time
	NewID     func() string // history event ids
	Log       *slog.Logger
}

// Apply parses and applies one notice. received is when the notice reached
// us (the SQS SentTimestamp, stable across redeliveries); the 30 days run
// from it. Errors wrapping ErrInvalid or ErrUnsupported will never succeed.
func (p *Processor) Apply(ctx context.Context, body []byte, received time.Time) (Outcome, error) {
	n, err := Parse(body)
	if err != nil {
		return "", err
	}
	if n.Type == Death {
		o, err := p.death(ctx, n, received) // reads and writes its ledger entry with the rest
		if err != nil {
			return p.failed(ctx, n, body, err)
		}
		return o, nil
	}
	seen, err := p.Ledger.Processed(ctx, n.ID)
	if err != nil {
		return "", fmt.Errorf("check ledger: %w", err)
	}
	if seen {
		return OutcomeDuplicate, nil
	}
	var o Outcome
	switch n.Type {
	case DeathAnnulled:
		var key personkey.Key
		if key, err = p.current(ctx, p.Keys.Key(n.Person)); err == nil {
			o, err = p.Deaths.AnnulDeath(ctx, key, n.Annuls, n.ID, p.Now().UTC())
		}
	case ParentalResponsibilitySet, ParentalResponsibilityEnds, FosterCareSet, FosterCareEnded:
		o, err = p.parental(ctx, n)
	case PersonIDChanged:
		var done bool
		o, done, err = p.changeID(ctx, n)
		if err == nil && !done {
			if err := p.Requeue.Requeue(ctx, body, 0); err != nil {
				return "", fmt.Errorf("requeue the rest of the move: %w", err)
			}
			return OutcomePersonMoveContinues, nil // recorded when the move is done
		}
	default:
		err = fmt.Errorf("%w: type %q", ErrUnsupported, n.Type) // unreachable: Parse checked
	}
	if err != nil {
		return p.failed(ctx, n, body, err)
	}
	if err := p.Ledger.Record(ctx, n.ID, n.Type, o, p.Now().UTC()); err != nil {
		return "", fmt.Errorf("record notice: %w", err)
	}
	return o, nil
}

// failed handles a notice that could not be applied now: one that waits
// for an id change to finish moving goes to the back of the queue, delayed
// (a new message: waiting never counts towards the dead-letter queue, and
// the ledger records it only when applied); any other error is returned.
func (p *Processor) failed(ctx context.Context, n Notice, body []byte, err error) (Outcome, error) {
	if !errors.Is(err, idchange.ErrMoving) || p.Requeue == nil {
		return "", fmt.Errorf("apply %s notice: %w", n.Type, err)
	}
	if err := p.Requeue.Requeue(ctx, body, WaitForMove); err != nil {
		return "", fmt.Errorf("requeue a notice waiting for an id change: %w", err)
	}
	p.Log.InfoContext(ctx, "notice waits for an id change to finish moving the person's data", "noticeId", n.ID)
	return OutcomeWaitingForIDChange, nil
}

// changeID applies person_id_changed Previous → Current, in whatever order
// the register's notices arrive: the change is kept in the id history
// first (so a later notice sees it, and a continuation finds it), then
// everything under the old key moves to the id in use now: Current, or the
// end of Current's chain when Current was itself changed already. A change
// that closes a cycle, or contradicts one already recorded, is refused
// (ErrRefused: the dead-letter queue, with the reason) before anything
// moves. Until the move is done, other notices about the person wait
// (idchange.ErrMoving).
func (p *Processor) changeID(ctx context.Context, n Notice) (Outcome, bool, error) {
	from, to := p.Keys.Key(n.Previous), p.Keys.Key(n.Current)
	var plan idchange.Plan
	for attempt := 1; ; attempt++ {
		var err error
		if plan, err = idchange.Decide(ctx, p.IDs, from, to); err != nil {
			return "", false, refused(err)
		}
		if !plan.Record {
			break
		}
		err = p.IDs.Record(ctx, from, plan.Target, idchange.Change{To: to, At: n.EventTime, NoticeID: n.ID})
		if errors.Is(err, idchange.ErrRetiredMeanwhile) && attempt < 3 {
			continue // the target was changed at the same time: decide again
		}
		if err != nil {
			return "", false, refused(fmt.Errorf("record id change: %w", err))
		}
		break
	}
	until := p.moveUntil(ctx)
	r, err := p.Mover.MovePerson(ctx, from, plan.Target, until)
	if err != nil {
		return "", false, err
	}
	if r.Done {
		if r.Done, err = p.followChain(ctx, to, until); err != nil {
			return "", false, err
		}
	}
	if r.Done {
		if err := p.IDs.MarkMoved(ctx, from); err != nil {
			return "", false, err
		}
	}
	if r.Merged > 0 || !r.Done {
		p.Log.InfoContext(ctx, "person id change moved items", "noticeId", n.ID, "movedThisSlice", r.Moved,
			"mergedThisSlice", r.Merged, "followedChain", plan.Target != to, "done", r.Done)
	}
	if plan.Target != to {
		return OutcomePersonMovedByChain, r.Done, nil
	}
	return OutcomePersonMoved, r.Done, nil
}

// followChain moves on what reached a retired key on the chain from key
// after that key's own move was done: a change of the target (B→C) applied
// while this change (A→B) was still moving into it. Usually key is not
// retired and this is one read.
func (p *Processor) followChain(ctx context.Context, key personkey.Key, until time.Time) (bool, error) {
	for range idchange.MaxChain {
		c, retired, err := p.IDs.ChangedTo(ctx, key)
		if err != nil || !retired {
			return err == nil, err
		}
		next, err := idchange.Current(ctx, p.IDs, c.To, key)
		if err != nil {
			return false, refused(err)
		}
		r, err := p.Mover.MovePerson(ctx, key, next, until)
		if err != nil || !r.Done {
			return false, err
		}
		key = c.To
	}
	return false, refused(idchange.ErrChainTooLong)
}

// current is the key in use now for a person whom a notice names by an id
// that may have been changed since: the register may send a notice before
// an id change and deliver it after. While an id change is still moving the
// person's data it is idchange.ErrMoving (the notice waits); a broken
// history (a cycle, a chain too long) refuses the notice.
func (p *Processor) current(ctx context.Context, key personkey.Key) (personkey.Key, error) {
	if p.IDs == nil {
		return key, nil
	}
	cur, err := idchange.Settled(ctx, p.IDs, key)
	return cur, refused(err)
}

// refused marks err as a refusal (ErrRefused: permanent, so the notice ends
// in the dead-letter queue) when the id history says the notice must never
// be applied (a cycle, a contradiction, a chain too long). Any other error
// passes unchanged: a throttled read must be retried, not refused.
func refused(err error) error {
	if idchange.Refused(err) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// moveUntil bounds one invocation's share of a move: MoveSlice, and never
// closer than a margin to the invocation's deadline.
func (p *Processor) moveUntil(ctx context.Context) time.Time {
	if p.Requeue == nil {
		return time.Time{}
	}
	d := p.MoveSlice
	if d <= 0 {
		d = DefaultMoveSlice
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - 5*time.Second; left < d {
			d = max(left, time.Second)
		}
	}
	return p.Now().Add(d)
}

func (p *Processor) parental(ctx context.Context, n Notice) (Outcome, error) {
	parent, err := p.current(ctx, p.Keys.Key(n.Parent))
	if err != nil {
		return "", err
	}
	child, err := p.current(ctx, p.Keys.Key(n.Child))
	if err != nil {
		return "", err
	}
	switch n.Type {
	case ParentalResponsibilityEnds:
		return OutcomeParentEnded, p.Relations.EndParentAt(ctx, parent, child, n.EventTime)
	case FosterCareEnded:
		return OutcomeFosterEnded, p.Relations.EndFosterAt(ctx, parent, child, n.EventTime)
	}
	for _, k := range []personkey.Key{parent, child} {
		dead, err := p.Deaths.Deceased(ctx, k)
		if err != nil {
			return "", err
		}
		if dead {
			return OutcomeIgnoredDeceased, nil
		}
	}
	if n.Type == FosterCareSet {
		return OutcomeFosterSet, p.Relations.SetFoster(ctx, parent, child, n.Child.BirthDate(), n.EventTime)
	}
	return OutcomeParentSet, p.Relations.SetParent(ctx, parent, child, n.Child.BirthDate(), n.EventTime)
}

// Permanent reports whether an error can never succeed on retry.
func Permanent(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrRefused)
}
