package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/personkey"
)

// ErrVersionConflict is returned by a Store when the state changed since the
// expected version was read.
var ErrVersionConflict = errors.New("consent: version conflict")

// ErrReceiptNotFound is returned by Store.Receipt and Eraser.Erase for a
// receipt id that does not exist.
var ErrReceiptNotFound = errors.New("consent: no such receipt")

// Store persists consent state, history and deletion receipts.
type Store interface {
	// Consent returns the current state; StatusNone if the person never consented.
	Consent(ctx context.Context, key personkey.Key) (State, error)
	// Apply atomically writes next (only if the stored version is still
	// expect; 0 means no state may exist yet), appends ev to the history and,
	// if receipt is not nil, creates it. It returns ErrVersionConflict when
	// the condition fails.
	Apply(ctx context.Context, key personkey.Key, next State, expect int64, ev Event, receipt *Receipt) error
	// History returns up to limit events, newest first, and a cursor for the
	// next page ("" when there is none).
	History(ctx context.Context, key personkey.Key, limit int, cursor string) ([]Event, string, error)
	// Receipt returns a deletion receipt by id.
	Receipt(ctx context.Context, key personkey.Key, id string) (Receipt, error)
}

// Scope says what a deletion keeps.
type Scope string

// The deletion scopes.
const (
	// ScopeWithdrawal keeps the records of consents and opt-outs (and receipts).
	ScopeWithdrawal Scope = "withdrawal"
	// ScopeEverything keeps only deletion receipts.
	ScopeEverything Scope = "everything"
)

// Slice bounds one call of an Eraser: it stops at a page boundary once
// another page would end after Until (judged by how long the last page
// took; zero: no time limit) or after Pages pages (0: no limit), and starts
// after the cursor After (a Receipt.Next; "" from the start). Every call
// erases at least one page.
type Slice struct {
	Until time.Time
	Pages int
	After string
}

// Eraser deletes a person's data under a receipt created beforehand. It must
// be resumable: calling it again after a crash completes the same receipt,
// and its counts stay exact across slices and crashes. When it stops at the
// slice's bound with work left, the receipt it returns is still
// ReceiptDeleting and carries Next.
type Eraser interface {
	Erase(ctx context.Context, key personkey.Key, receiptID string, scope Scope, slice Slice) (Receipt, error)
}

// Grant is what the withdrawal rule needs to know about a power of attorney
// the person has given. It holds no person id.
type Grant struct {
	ID        string    `json:"id"`
	Areas     []string  `json:"areas"`
	ValidFrom time.Time `json:"validFrom"`
	ValidTo   time.Time `json:"validTo"`
}

// Grants lists the powers of attorney a person has given.
type Grants interface {
	GivenBy(ctx context.Context, key personkey.Key) ([]Grant, error)
}

// Background carries on an erase that a request does not finish itself.
type Background interface {
	// Prepare records, before the erase starts, a job (due now) that
	// finishes the receipt's erase if the caller stops half-way (a crash, a
	// timeout): the scheduled sweeper queues it. It is idempotent; created
	// is false when the job already exists (another caller owns the erase).
	Prepare(ctx context.Context, key personkey.Key, receiptID string, reason Reason, scope Scope) (created bool, err error)
	// Hand queues the job at once, to continue after the cursor next.
	Hand(ctx context.Context, receiptID, next string) error
	// Close marks the job done: the caller finished the erase itself.
	Close(ctx context.Context, receiptID string) error
}

// DefaultBudget is how long a withdrawal request may take, counted from its
// start (its reads and the withdrawal itself included), before it hands the
// rest of the erase to the purge worker and answers 202: well inside API
// Gateway's 30 s, and short enough that the person waits at most about a
// second.
const DefaultBudget = 800 * time.Millisecond

// Service applies the consent rules.
type Service struct {
	Store  Store
	Eraser Eraser
	Grants Grants
	Now    func() time.Time
	NewID  func() string
	// Background, if set, takes over an erase that does not finish within
	// Budget (0: DefaultBudget). Without it the request erases everything.
	Background Background
	Budget     time.Duration
	// Deaths, if set, stops consent being given for someone registered dead.
	Deaths interface {
		Deceased(ctx context.Context, key personkey.Key) (bool, error)
	}
	// Register, if set, is asked whether the person is alive and current
	// when consent is given (not when an active consent changes level).
	Register        Register
	RegisterTimeout time.Duration // 0: RegisterTimeout
	// Relations, if set, receives the person's current children from the
	// register look-up once consent is given.
	Relations Relations
	// OnRegisterError, if set, is told why the register look-up (or the
	// import of children) failed, for the log.
	OnRegisterError func(ctx context.Context, err error)
}

// Change asks to give consent or change its level.
type Change struct {
	Level         Level
	PatientTravel bool
	Channel       Channel
	// IfMatch, when set, is the version the caller last saw.
	IfMatch *int64
}

// Withdrawal asks to withdraw consent.
type Withdrawal struct {
	Channel Channel
	// FormID and Operator are the paper form that asked for the withdrawal
	// and the operator who keyed it in (channel paper_form only).
	FormID   string
	Operator string
	// ConfirmCascade confirms that powers of attorney the person has given
	// are deleted with the consent.
	ConfirmCascade bool
	IfMatch        *int64
	// EvenWithoutConsent records a withdrawal for someone who never
	// consented (a paper form for a child): their data is deleted all the same.
	EvenWithoutConsent bool
}

// Get returns the person's current consent.
func (s *Service) Get(ctx context.Context, p Person) (State, error) {
	st, err := s.Store.Consent(ctx, p.Key)
	if err != nil {
		return State{}, fmt.Errorf("read consent: %w", err)
	}
	return st, nil
}

// Validate checks a change against the rules that need no stored state.
func (c Change) Validate() error {
	if !c.Level.Valid() {
		return domain.Errorf(domain.EInvalid, "unknown_level", "The level must be one of basic, basic_plus or full.")
	}
	if c.PatientTravel && c.Level != Full {
		return domain.Errorf(domain.EInvalid, "patient_travel_requires_full", "Patient travel consent requires the full consent level.")
	}
	switch c.Channel {
	case ChannelPortal, ChannelPaper, ChannelRegistry:
	default:
		return domain.Errorf(domain.EInvalid, "unknown_channel", "The channel is not known.")
	}
	return nil
}

// Set gives consent or changes it. Setting the state the person already has
// is a successful no-op, so a retried request has one effect.
func (s *Service) Set(ctx context.Context, p Person, c Change) (State, error) {
	if err := c.Validate(); err != nil {
		return State{}, err
	}
	cur, err := s.Store.Consent(ctx, p.Key)
	if err != nil {
		return State{}, fmt.Errorf("read consent: %w", err)
	}
	if err := checkIfMatch(cur, c.IfMatch); err != nil {
		return State{}, err
	}
	if cur.Status == StatusActive && cur.Level == c.Level && cur.PatientTravel == c.PatientTravel {
		return cur, nil
	}
	if s.Deaths != nil {
		dead, err := s.Deaths.Deceased(ctx, p.Key)
		if err != nil {
			return State{}, fmt.Errorf("check death marker: %w", err)
		}
		if dead {
			return State{}, domain.Errorf(domain.EForbidden, "deceased", "The population register reports this person as deceased.")
		}
	}
	var reg Registered
	if cur.Status != StatusActive {
		if reg, err = s.checkRegister(ctx, p); err != nil {
			return State{}, err
		}
	}
	now := s.Now().UTC()
	action := ActionGive
	if cur.Status == StatusActive {
		action = ActionChange
	}
	next := State{
		Status: StatusActive, Level: c.Level, PatientTravel: c.PatientTravel,
		Version: cur.Version + 1, UpdatedAt: now, Channel: c.Channel,
		WithdrawalID: cur.WithdrawalID,
	}
	ev := Event{ID: s.NewID(), At: now, Action: action, Level: c.Level, PatientTravel: c.PatientTravel, Channel: c.Channel, Version: next.Version}
	if err := s.Store.Apply(ctx, p.Key, next, cur.Version, ev, nil); err != nil {
		return State{}, conflict(err, c.IfMatch != nil)
	}
	s.importChildren(ctx, p, reg)
	return next, nil
}

// Withdraw withdraws consent and deletes all of the person's data except the
// records of consents and opt-outs. The withdrawal takes effect at once:
// the state is withdrawn (every decision denies) before anything is
// deleted. The erase runs in the request for at most Budget; what is left
// is handed to Background and the receipt comes back still deleting, with
// its counts so far. Withdrawing again returns the receipt of the earlier
// withdrawal, finishing its deletion first if it was interrupted.
func (s *Service) Withdraw(ctx context.Context, p Person, w Withdrawal) (Receipt, error) {
	start := s.Now()
	cur, err := s.Store.Consent(ctx, p.Key)
	if err != nil {
		return Receipt{}, fmt.Errorf("read consent: %w", err)
	}
	switch cur.Status {
	case StatusNone:
		if !w.EvenWithoutConsent {
			return Receipt{}, domain.Errorf(domain.ENotFound, "no_consent", "There is no consent to withdraw.")
		}
	case StatusWithdrawn:
		if cur.WithdrawalID == "" {
			// Withdrawn by the register at death: the data waits for the
			// delayed purge, there is no withdrawal receipt to return.
			return Receipt{}, domain.Errorf(domain.ENotFound, "no_consent", "There is no consent to withdraw.")
		}
		return s.finish(ctx, p, cur.WithdrawalID, start)
	}
	if err := checkIfMatch(cur, w.IfMatch); err != nil {
		return Receipt{}, err
	}
	given, err := s.Grants.GivenBy(ctx, p.Key)
	if err != nil {
		return Receipt{}, fmt.Errorf("list given powers of attorney: %w", err)
	}
	if len(given) > 0 && !w.ConfirmCascade {
		return Receipt{}, domain.Errorf(domain.EConflict, "powers_of_attorney_given",
			"You have given powers of attorney. Delete them first, or confirm that withdrawing consent deletes them.").
			With("powersOfAttorney", given)
	}
	now := s.Now().UTC()
	r := Receipt{ID: s.NewID(), Reason: ReasonWithdrawal, Status: ReceiptDeleting, StartedAt: now}
	next := State{
		Status: StatusWithdrawn, Version: cur.Version + 1, UpdatedAt: now,
		Channel: w.Channel, WithdrawalID: r.ID,
	}
	ev := Event{ID: s.NewID(), At: now, Action: ActionWithdraw, Channel: w.Channel, Version: next.Version, FormID: w.FormID, Operator: w.Operator}
	if err := s.Store.Apply(ctx, p.Key, next, cur.Version, ev, &r); err != nil {
		return Receipt{}, conflict(err, w.IfMatch != nil)
	}
	return s.finish(ctx, p, r.ID, start)
}

// WithdrawnOnDeath is the consent after the population register reports a
// death at at (channel: registry), with its history event. Unlike Withdraw
// it deletes nothing now: all of the person's data goes 30 days later,
// unless the death is annulled. ok is false when consent is not active:
// there is nothing to withdraw, so a redelivered notice has one effect.
func WithdrawnOnDeath(cur State, at time.Time, eventID string) (next State, ev Event, ok bool) {
	if cur.Status != StatusActive {
		return State{}, Event{}, false
	}
	now := at.UTC()
	next = State{Status: StatusWithdrawn, Version: cur.Version + 1, UpdatedAt: now, Channel: ChannelRegistry}
	ev = Event{ID: eventID, At: now, Action: ActionWithdraw, Channel: ChannelRegistry, Version: next.Version}
	return next, ev, true
}

// finish erases under receiptID until the request that started at start
// has used its budget.
func (s *Service) finish(ctx context.Context, p Person, receiptID string, start time.Time) (Receipt, error) {
	r, err := s.Store.Receipt(ctx, p.Key, receiptID)
	if errors.Is(err, ErrReceiptNotFound) {
		return Receipt{}, domain.Errorf(domain.ENotFound, "receipt_not_found", "No such deletion receipt.")
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("read receipt: %w", err)
	}
	if r.Status == ReceiptDone {
		return r, nil
	}
	if s.Background == nil {
		r, err = s.Eraser.Erase(ctx, p.Key, receiptID, ScopeWithdrawal, Slice{})
		if err != nil {
			return Receipt{}, eraseError(err)
		}
		return r, nil
	}
	created, err := s.Background.Prepare(ctx, p.Key, receiptID, ReasonWithdrawal, ScopeWithdrawal)
	if err != nil {
		return Receipt{}, fmt.Errorf("record erase job: %w", err)
	}
	if !created {
		return r, nil // an earlier request or the purge worker is on it
	}
	budget := s.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	r, err = s.Eraser.Erase(ctx, p.Key, receiptID, ScopeWithdrawal, Slice{Until: start.Add(budget)})
	if err != nil {
		return Receipt{}, eraseError(err)
	}
	if r.Status == ReceiptDone {
		if err := s.Background.Close(ctx, receiptID); err != nil {
			return Receipt{}, fmt.Errorf("close erase job: %w", err)
		}
		return r, nil
	}
	if err := s.Background.Hand(ctx, receiptID, r.Next); err != nil {
		return Receipt{}, fmt.Errorf("hand erase to the purge worker: %w", err)
	}
	r.Next = ""
	return r, nil
}

// eraseError maps an error of Eraser.Erase: a receipt gone meanwhile is the
// client's 404, as when it is gone before the erase.
func eraseError(err error) error {
	if errors.Is(err, ErrReceiptNotFound) {
		return domain.Errorf(domain.ENotFound, "receipt_not_found", "No such deletion receipt.")
	}
	return fmt.Errorf("erase after withdrawal: %w", err)
}

// Receipt returns one of the person's deletion receipts: while the erase
// runs, its status is deleting and its counts are those so far.
func (s *Service) Receipt(ctx context.Context, p Person, id string) (Receipt, error) {
	if id == "" || len(id) > 64 {
		return Receipt{}, domain.Errorf(domain.ENotFound, "receipt_not_found", "No such deletion receipt.")
	}
	r, err := s.Store.Receipt(ctx, p.Key, id)
	if err != nil {
		return Receipt{}, fmt.Errorf("read receipt: %w", err)
	}
	r.Next = ""
	return r, nil
}

// History returns the person's consent history, newest first.
func (s *Service) History(ctx context.Context, p Person, limit int, cursor string) ([]Event, string, error) {
	evs, next, err := s.Store.History(ctx, p.Key, limit, cursor)
	if errors.Is(err, domain.ErrInvalidCursor) {
		return nil, "", domain.InvalidCursor()
	}
	if err != nil {
		return nil, "", fmt.Errorf("read consent history: %w", err)
	}
	return evs, next, nil
}

func checkIfMatch(cur State, ifMatch *int64) error {
	if ifMatch != nil && *ifMatch != cur.Version {
		return domain.Errorf(domain.EPreconditionFailed, "version_mismatch", "The consent has changed since you read it. Read it again and retry.")
	}
	return nil
}

func conflict(err error, hadIfMatch bool) error {
	if !errors.Is(err, ErrVersionConflict) {
		return fmt.Errorf("write consent: %w", err)
	}
	if hadIfMatch {
		return domain.Errorf(domain.EPreconditionFailed, "version_mismatch", "The consent has changed since you read it. Read it again and retry.")
	}
	return domain.Errorf(domain.EConflict, "concurrent_update", "The consent was changed by another request at the same time. Read it again and retry.")
}
