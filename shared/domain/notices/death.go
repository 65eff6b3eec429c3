package notices

import (
	"context"
	"errors"
	"fmt"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/personkey"
)

// DeathNotices reads and writes what one death notice touches: everything
// it needs to decide in one read, everything it changes in one write.
type DeathNotices interface {
	// ReadDeath reads, strongly consistent and at once, the notice's ledger
	// entry, an annulment of it that came first, the person's consent and
	// death marker, and the notice's deletion job.
	ReadDeath(ctx context.Context, key personkey.Key, noticeID string) (DeathRead, error)
	// WriteDeath writes w at once, on condition that what w.Read saw has not
	// changed: otherwise it writes nothing and returns ErrDeathChanged.
	// Grant deletions too many for one write go first, in writes of their
	// own that check the ledger and the annulment; a retry after a crash
	// finds fewer grants and ends in the same state.
	WriteDeath(ctx context.Context, w DeathWrite) error
}

// ErrDeathChanged is returned by DeathNotices.WriteDeath when something the
// death notice read changed before it wrote: read again and decide again.
var ErrDeathChanged = errors.New("notices: death notice state changed meanwhile")

// DeathRead is what deciding a death notice needs.
type DeathRead struct {
	Processed bool          // the ledger has the notice
	Annulled  bool          // an annulment of the notice arrived before it
	Consent   consent.State // StatusNone if the person never consented
	Marker    DeathMarker
	JobExists bool // the notice's deletion job exists: the death was recorded before
	// Retired: the person's id was changed before the notice arrived (the
	// id history says to what).
	Retired bool
	// MovingIn: an id change is still moving data into the key.
	MovingIn bool
}

// DeathMarker is the death registered for a person, if any.
type DeathMarker struct {
	NoticeID string // "" when no death is registered
	Live     bool   // pending or purged; an annulled death is not live
}

// DeathWrite is everything one death notice changes, written at once.
type DeathWrite struct {
	Key      personkey.Key
	NoticeID string
	// Read is what the decision saw; each item must still be so.
	Read DeathRead
	// Withdraw, if set, is the consent withdrawn on death and its history event.
	Withdraw *ConsentWithdrawal
	// DeleteGrants deletes every power of attorney the person gave or
	// received, both sides.
	DeleteGrants bool
	// Death, if set, records the death marker and its deletion job.
	Death *DeathRecord
	// The ledger entry.
	Type    Type
	Outcome Outcome
	At      time.Time
}

// ConsentWithdrawal is consent's next state and its history event.
type ConsentWithdrawal struct {
	Next  consent.State
	Event consent.Event
}

// DeathRecord is the death marker and its deletion job, due at Due.
type DeathRecord struct {
	Received, Due time.Time
}

// maxDeathAttempts bounds how often a death notice reads again after what
// it read changed under it.
const maxDeathAttempts = 5

// death withdraws consent (channel: registry) and deletes every power of
// attorney given and received at once, and records the marker and a
// deletion job due 30 days after receipt, with the ledger entry: one read,
// one Query of the grants, one write. The write is all or nothing and
// conditional on what was read, so a crash or a redelivery at any point
// ends in the same state, and a concurrent change makes it decide again.
func (p *Processor) death(ctx context.Context, n Notice, received time.Time) (Outcome, error) {
	key := p.Keys.Key(n.Person)
	for attempt := 1; ; attempt++ {
		r, err := p.DeathNotices.ReadDeath(ctx, key, n.ID)
		if err != nil {
			return "", fmt.Errorf("read death notice state: %w", err)
		}
		if r.Retired || r.MovingIn {
			// Sent before the person's id changed, arrived after: the death
			// is the person's under the id in use now, once the move is done.
			if key, err = p.current(ctx, key); err != nil {
				return "", err
			}
			if attempt == maxDeathAttempts {
				return "", fmt.Errorf("apply death notice: the person's id keeps changing")
			}
			continue
		}
		w, o := decideDeath(key, n, r, received, p.Now().UTC(), p.NewID)
		if w == nil {
			return o, nil
		}
		err = p.DeathNotices.WriteDeath(ctx, *w)
		if errors.Is(err, ErrDeathChanged) && attempt < maxDeathAttempts {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("apply death notice: %w", err)
		}
		return o, nil
	}
}

// decideDeath is what a death notice does, given what it read: nil for a
// notice already applied, otherwise the write and its outcome.
func decideDeath(key personkey.Key, n Notice, r DeathRead, received, now time.Time, newID func() string) (*DeathWrite, Outcome) {
	if r.Processed {
		return nil, OutcomeDuplicate
	}
	w := &DeathWrite{Key: key, NoticeID: n.ID, Read: r, Type: n.Type, At: now}
	switch {
	case r.Annulled:
		w.Outcome = OutcomeDeathAnnulledEarlier
	case r.JobExists || r.Marker.NoticeID == n.ID:
		w.Outcome = OutcomeDeathAlreadyRecorded
		// While this death stands, powers of attorney a crash left (more
		// than one write's worth) still go; after an annulment the person
		// is alive and keeps theirs.
		if r.Marker.NoticeID == n.ID && r.Marker.Live {
			w.DeleteGrants, w.Outcome = true, OutcomeDeathRecorded // this notice's death: finish it
		}
	default:
		if next, ev, ok := consent.WithdrawnOnDeath(r.Consent, received, newID()); ok {
			w.Withdraw = &ConsentWithdrawal{Next: next, Event: ev}
		}
		w.DeleteGrants = true
		w.Outcome = OutcomeDeathAlreadyDifferent
		if !r.Marker.Live { // none, or an annulled one: a new death replaces it
			w.Death = &DeathRecord{Received: received, Due: received.Add(deletion.Delay)}
			w.Outcome = OutcomeDeathRecorded
		}
	}
	return w, w.Outcome
}
