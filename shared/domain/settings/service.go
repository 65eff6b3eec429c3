package settings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Update is one change to write atomically.
type Update struct {
	Next      State
	Expect    int64
	Change    Change
	NewJob    *deletion.Job
	CancelJob string
}

// Errors the store's Save returns; the service turns them into the
// client's problem.
var (
	// ErrConcurrentUpdate: the stored version is no longer Expect.
	ErrConcurrentUpdate = errors.New("settings: changed meanwhile")
	// ErrPurgeStarted: the SCR purge job to cancel is no longer pending or queued.
	ErrPurgeStarted = errors.New("settings: summary care record purge started")
)

// Store keeps settings.
type Store interface {
	Settings(ctx context.Context, key personkey.Key) (State, error)
	Save(ctx context.Context, key personkey.Key, u Update) error
}

// Service changes settings by the same rules for every channel.
type Service struct {
	Store Store
	// Records, if set, tells whether a caller acts for their child
	// (ChildOf); only the portal needs it.
	Records access.RecordsReader
	Now     func() time.Time
	NewID   func() string
}

// Who is who changes a setting, and how.
type Who struct {
	By      By
	Channel Channel
	FormID  string
	// Operator keyed in the paper form (its token subject); empty otherwise.
	Operator string
}

// Get returns the settings.
func (s *Service) Get(ctx context.Context, key personkey.Key) (State, error) {
	st, err := s.Store.Settings(ctx, key)
	if err != nil {
		return State{}, fmt.Errorf("read settings: %w", err)
	}
	return st, nil
}

// ChildOf returns ErrNotChild unless parent has parental responsibility
// for child and child is under maxAge now, and refuses a parent or child
// registered dead (CheckAlive): the parent's death first, the child's only
// once the relation is known, so a stranger learns nothing. Without Records
// it is an internal error: nobody can be shown to be a child.
func (s *Service) ChildOf(ctx context.Context, parent, child personkey.Key, maxAge int) error {
	if s.Records == nil {
		return errors.New("settings: ChildOf needs Records")
	}
	recs, err := s.Records.AccessRecords(ctx, parent, child)
	if err != nil {
		return err
	}
	if err := CheckAlive(recs.ActorDeceased, false); err != nil {
		return err
	}
	if !recs.ParentOfChildUnder(maxAge, s.Now()) {
		return ErrNotChild()
	}
	return CheckAlive(false, recs.Subject.Deceased)
}

// Alive refuses a person registered dead their own settings (CheckAlive).
func (s *Service) Alive(ctx context.Context, key personkey.Key) error {
	recs, err := s.Records.AccessRecords(ctx, key, key)
	if err != nil {
		return err
	}
	return CheckAlive(recs.ActorDeceased, recs.Subject.Deceased)
}

// SetEmergencyBlockInPortal is SetEmergencyBlock asked for in the portal by
// caller. A child's block is lifted only with the paper form for children
// under 16, whether a parent asks for it or the child does (a parent may
// have placed it).
func (s *Service) SetEmergencyBlockInPortal(ctx context.Context, key personkey.Key, blocked bool, by By, caller nin.ID) (State, error) {
	if !blocked && (by == ByParent || clock.Age(caller.BirthDate(), s.Now()) < ChildAge) {
		return State{}, domain.Errorf(domain.EForbidden, "reinstate_child_by_form",
			"A child's access is reinstated with the paper form for children under 16.")
	}
	return s.SetEmergencyBlock(ctx, key, blocked, Who{By: by, Channel: Portal})
}

// SetEmergencyBlock blocks or reinstates all logged-in services. It does
// not touch the summary care record.
func (s *Service) SetEmergencyBlock(ctx context.Context, key personkey.Key, blocked bool, who Who) (State, error) {
	return s.change(ctx, key, who, EmergencyBlock, onOff(blocked, "blocked", "reinstated"), func(st *State, _ time.Time) (Update, bool) {
		if st.EmergencyBlock == blocked {
			return Update{}, false
		}
		st.EmergencyBlock = blocked
		return Update{}, true
	})
}

// SetPatientRecordAccess removes or restores digital access to the
// patient record (one cannot opt out of the record itself).
func (s *Service) SetPatientRecordAccess(ctx context.Context, key personkey.Key, enabled bool, who Who) (State, error) {
	return s.change(ctx, key, who, PatientRecordAccess, onOff(enabled, "restored", "removed"), func(st *State, _ time.Time) (Update, bool) {
		if st.PatientRecordRemoved == !enabled {
			return Update{}, false
		}
		st.PatientRecordRemoved = !enabled
		return Update{}, true
	})
}

// SetSCRAccess removes or restores the person's own digital access to
// their summary care record.
func (s *Service) SetSCRAccess(ctx context.Context, key personkey.Key, enabled bool, who Who) (State, error) {
	return s.change(ctx, key, who, SCRAccess, onOff(enabled, "restored", "removed"), func(st *State, _ time.Time) (Update, bool) {
		if st.SCRAccessRemoved == !enabled {
			return Update{}, false
		}
		st.SCRAccessRemoved = !enabled
		return Update{}, true
	})
}

// OptOutSCR opts out of having a summary care record. The contents stay,
// hidden, for 30 days; a deletion job then purges them unless restored.
func (s *Service) OptOutSCR(ctx context.Context, key personkey.Key, who Who) (State, error) {
	return s.change(ctx, key, who, SCROptOut, "opted_out", func(st *State, now time.Time) (Update, bool) {
		if st.SCROptedOut {
			return Update{}, false
		}
		job := &deletion.Job{
			ID: scrJobID(key, st.SCRGeneration, now), Person: key, Reason: consent.ReasonSCROptOut,
			Scope: ScopeSCR(st.SCRGeneration), Status: deletion.StatusPending, DueAt: now.Add(SCRRestoreWindow),
		}
		st.SCROptedOut, st.SCROptedOutAt, st.SCRPurgeJob = true, now, job.ID
		return Update{NewJob: job}, true
	})
}

// RestoreSCR ends an opt-out. Within 30 days the record comes back with its
// contents (the purge job is cancelled); after that a new, empty record
// starts, and the job purges the old one.
func (s *Service) RestoreSCR(ctx context.Context, key personkey.Key, who Who) (State, error) {
	return s.change(ctx, key, who, SCROptOut, "restored", func(st *State, now time.Time) (Update, bool) {
		if !st.SCROptedOut {
			return Update{}, false
		}
		var u Update
		if now.Before(st.RestorableUntil()) {
			u.CancelJob = st.SCRPurgeJob
		} else {
			st.SCRGeneration++
		}
		st.SCROptedOut, st.SCROptedOutAt, st.SCRPurgeJob = false, time.Time{}, ""
		return u, true
	})
}

// change reads, applies fn and writes with a condition on the version;
// asking for the state the person already has is a successful no-op.
func (s *Service) change(ctx context.Context, key personkey.Key, who Who, setting Setting, value string, fn func(*State, time.Time) (Update, bool)) (State, error) {
	cur, err := s.Store.Settings(ctx, key)
	if err != nil {
		return State{}, fmt.Errorf("read settings: %w", err)
	}
	now := s.Now().UTC()
	next := cur
	u, changed := fn(&next, now)
	if !changed {
		return cur, nil
	}
	next.Version = cur.Version + 1
	u.Next, u.Expect = next, cur.Version
	u.Change = Change{ID: s.NewID(), At: now, Setting: setting, Value: value, By: who.By, Channel: who.Channel, FormID: who.FormID, Operator: who.Operator}
	switch err := s.Store.Save(ctx, key, u); {
	case errors.Is(err, ErrPurgeStarted):
		return State{}, domain.Errorf(domain.EConflict, "scr_purge_started", "The summary care record is already being deleted; it cannot be restored with its contents.")
	case errors.Is(err, ErrConcurrentUpdate):
		return State{}, domain.Errorf(domain.EConflict, "concurrent_update", "The settings were changed by another request at the same time. Read them again and retry.")
	case err != nil:
		return State{}, err
	}
	return next, nil
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func scrJobID(key personkey.Key, gen int, at time.Time) string {
	sum := sha256.Sum256([]byte(string(key) + "\x00scr\x00" + strconv.Itoa(gen) + "\x00" + at.Format(time.RFC3339Nano)))
	return "scr-" + hex.EncodeToString(sum[:12])
}
