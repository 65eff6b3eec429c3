package sectoraccess

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Update is one change to write atomically: the new state (if the stored
// one is still at version Expect) and one history record per changed
// setting.
type Update struct {
	Next    State
	Expect  int64
	Changes []Change
}

// ErrVersionConflict is returned by Store.Save when the stored version is
// no longer Expect.
var ErrVersionConflict = errors.New("sector settings changed concurrently")

// Store keeps the settings and their history.
type Store interface {
	Sector(ctx context.Context, key personkey.Key) (State, error)
	SaveSector(ctx context.Context, key personkey.Key, u Update) error
	SectorHistory(ctx context.Context, key personkey.Key, limit int, cursor string) ([]Change, string, error)
}

// Links finds a parent's link to a child: the child's birth date, and
// whether the parent has parental responsibility now (not foster care,
// not ended).
type Links interface {
	ChildBirth(ctx context.Context, parent, child personkey.Key) (birth nin.Date, ok bool, err error)
}

// Deaths says whether the population register reports a person dead.
type Deaths interface {
	Deceased(ctx context.Context, key personkey.Key) (bool, error)
}

// Service reads and changes the settings by the same rules for every caller.
type Service struct {
	Store Store
	Links Links
	// Deaths, when set, bars a deceased caller or child: from a death
	// notice on, nobody acts as or for that person. Their settings keep
	// binding the sector until the deletion 30 days later.
	Deaths Deaths
	Now    func() time.Time
	NewID  func() string
}

// Who is who changes a setting, and how.
type Who struct {
	By      By
	Channel Channel
}

// The catalogue services whose child bands say whether a parent may act
// for a child: the summary care record settings are part of the summary
// care record service ("Summary Care Record: access, your own entries,
// settings and usage log", children under 12); the Prescription
// Intermediary settings go with them (the pages give parents no other
// prescription settings). Research and registry choices follow the
// research and health registries services.
const (
	ServicePersonnel  = "summary_care_record"
	ServiceResearch   = "research"
	ServiceRegistries = "health_registries"
)

// ServiceFor returns the catalogue service a purpose belongs to.
func ServiceFor(p PurposeInfo) string {
	if p.Scope == "research" {
		return ServiceResearch
	}
	return ServiceRegistries
}

// Subject resolves whose settings a request is about: the caller's own
// (child == ""), or a child's when the caller has parental responsibility
// and the catalogue gives parents service at the child's age. Attorneys
// never: a power of attorney gives no access to the grantor's settings.
func (s *Service) Subject(ctx context.Context, caller personkey.Key, child personkey.Key, service string) (personkey.Key, By, error) {
	if err := s.alive(ctx, caller); err != nil {
		return "", "", err
	}
	if child == "" || child == caller {
		return caller, BySelf, nil
	}
	birth, ok, err := s.Links.ChildBirth(ctx, caller, child)
	if err != nil {
		return "", "", fmt.Errorf("read child link: %w", err)
	}
	if !ok || !ParentMay(service, clock.Age(birth, s.Now())) {
		return "", "", domain.Errorf(domain.EForbidden, "not_your_child", "You can change these settings only for your own children, at the ages the service allows.")
	}
	if err := s.alive(ctx, child); err != nil {
		return "", "", err
	}
	return child, ByParent, nil
}

func (s *Service) alive(ctx context.Context, key personkey.Key) error {
	if s.Deaths == nil {
		return nil
	}
	dead, err := s.Deaths.Deceased(ctx, key)
	if err != nil {
		return fmt.Errorf("check death marker: %w", err)
	}
	if dead {
		return domain.Errorf(domain.EForbidden, "deceased", "The population register reports this person as deceased.")
	}
	return nil
}

// ParentMay reports whether the catalogue gives a parent the service for a
// child of age.
func ParentMay(service string, age int) bool {
	svc, ok := access.Lookup(service)
	switch {
	case !ok || age < 0 || age >= access.ParentAccessEnds:
		return false
	case age < access.ChildRestrictedAge:
		return svc.ChildUnder12
	}
	return svc.Child12To16
}

// Get returns the settings.
func (s *Service) Get(ctx context.Context, key personkey.Key) (State, error) {
	st, err := s.Store.Sector(ctx, key)
	if err != nil {
		return State{}, fmt.Errorf("read sector settings: %w", err)
	}
	return st, nil
}

// History returns the changes, newest first.
func (s *Service) History(ctx context.Context, key personkey.Key, limit int, cursor string) ([]Change, string, error) {
	return s.Store.SectorHistory(ctx, key, limit, cursor)
}

// PrescriptionsInput is a new set of Prescription Intermediary settings.
type PrescriptionsInput struct {
	Limited []string
	Blocked []string
	OnlyGP  bool
}

// SetPrescriptions replaces the Prescription Intermediary settings.
func (s *Service) SetPrescriptions(ctx context.Context, key personkey.Key, in PrescriptionsInput, ifMatch *int64, who Who) (State, error) {
	limited, err := normalisePrescriptions(in.Limited)
	if err != nil {
		return State{}, err
	}
	blocked, err := normaliseHPRs(in.Blocked)
	if err != nil {
		return State{}, err
	}
	return s.change(ctx, key, ifMatch, who, func(st *State) {
		st.Prescriptions = Prescriptions{Limited: limited, Blocked: blocked, OnlyGP: in.OnlyGP}
	})
}

// SCRInput is a new set of summary care record settings.
type SCRInput struct {
	Limited                   bool
	Blocked                   []string
	AppointmentHistoryBlocked bool
}

// SetSCR replaces the summary care record settings for health personnel.
func (s *Service) SetSCR(ctx context.Context, key personkey.Key, in SCRInput, ifMatch *int64, who Who) (State, error) {
	blocked, err := normaliseHPRs(in.Blocked)
	if err != nil {
		return State{}, err
	}
	return s.change(ctx, key, ifMatch, who, func(st *State) {
		st.SCR = SCR{Limited: in.Limited, Blocked: blocked, AppointmentHistoryBlocked: in.AppointmentHistoryBlocked}
	})
}

// SetResearch records the person's choice on one purpose: allowed (a
// consent, or lifting a reservation) or not (withdrawing a consent, or a
// reservation).
func (s *Service) SetResearch(ctx context.Context, key personkey.Key, p PurposeInfo, allowed bool, ifMatch *int64, who Who) (State, error) {
	return s.change(ctx, key, ifMatch, who, func(st *State) {
		if v, ok := st.Research[p.ID]; ok && v == allowed {
			return
		}
		st.Research = maps.Clone(st.Research)
		if st.Research == nil {
			st.Research = map[Purpose]bool{}
		}
		st.Research[p.ID] = allowed
	})
}

// change reads, applies fn and writes on the condition that nobody wrote in
// between. Asking for what is already in effect is a successful no-op.
func (s *Service) change(ctx context.Context, key personkey.Key, ifMatch *int64, who Who, fn func(*State)) (State, error) {
	cur, err := s.Store.Sector(ctx, key)
	if err != nil {
		return State{}, fmt.Errorf("read sector settings: %w", err)
	}
	if ifMatch != nil && *ifMatch != cur.Version {
		return State{}, conflict(true)
	}
	next := cur
	fn(&next)
	now := s.Now().UTC()
	var changes []Change
	for _, set := range changed(cur, next) {
		changes = append(changes, Change{ID: s.NewID(), At: now, Setting: set, Value: next.valueOf(set), By: who.By, Channel: who.Channel})
	}
	if len(changes) == 0 {
		return cur, nil
	}
	next.Since = maps.Clone(cur.Since)
	if next.Since == nil {
		next.Since = map[Setting]time.Time{}
	}
	for _, c := range changes {
		next.Since[c.Setting] = now
	}
	next.Version = cur.Version + 1
	if err := s.Store.SaveSector(ctx, key, Update{Next: next, Expect: cur.Version, Changes: changes}); err != nil {
		if errors.Is(err, ErrVersionConflict) {
			return State{}, conflict(ifMatch != nil)
		}
		return State{}, fmt.Errorf("save sector settings: %w", err)
	}
	return next, nil
}

func conflict(hadIfMatch bool) error {
	if hadIfMatch {
		return domain.Errorf(domain.EPreconditionFailed, "version_mismatch", "The settings have changed since you read them. Read them again and retry.")
	}
	return domain.Errorf(domain.EConflict, "concurrent_update", "The settings were changed by another request at the same time. Read them again and retry.")
}

// changed lists the settings whose value differs between a and b.
func changed(a, b State) []Setting {
	var out []Setting
	if !slices.Equal(a.Prescriptions.Limited, b.Prescriptions.Limited) {
		out = append(out, RxLimitedPrescriptions)
	}
	if !slices.Equal(a.Prescriptions.Blocked, b.Prescriptions.Blocked) {
		out = append(out, RxBlockedProfessionals)
	}
	if a.Prescriptions.OnlyGP != b.Prescriptions.OnlyGP {
		out = append(out, RxOnlyGP)
	}
	if a.SCR.Limited != b.SCR.Limited {
		out = append(out, SCRLimited)
	}
	if !slices.Equal(a.SCR.Blocked, b.SCR.Blocked) {
		out = append(out, SCRBlockedProfessionals)
	}
	if a.SCR.AppointmentHistoryBlocked != b.SCR.AppointmentHistoryBlocked {
		out = append(out, SCRAppointmentHistoryBlocked)
	}
	for _, p := range Purposes {
		av, aok := a.Research[p.ID]
		bv, bok := b.Research[p.ID]
		if aok != bok || av != bv {
			out = append(out, ResearchSetting(p.ID))
		}
	}
	return out
}

// valueOf renders a setting's new value for the history: never an HPR
// number or a prescription id, only how many there are, or on/off, or for
// a purpose allowed/not_allowed.
func (s State) valueOf(set Setting) string {
	for _, p := range Purposes {
		if set == ResearchSetting(p.ID) {
			if s.Allowed(p) {
				return "allowed"
			}
			return "not_allowed"
		}
	}
	return s.value(set)
}

// GPRegister finds a person's GP (fastlege) in the GP register.
type GPRegister interface {
	GP(ctx context.Context, person nin.ID) (HPR, bool, error)
}

// DecisionStore reads, in one DynamoDB round trip, what a sector decision
// needs: the person's settings and whether they opted out of the summary
// care record.
type DecisionStore interface {
	DecisionFacts(ctx context.Context, key personkey.Key) (st State, scrOptedOut bool, err error)
}

// Decider answers the sector's questions.
type Decider struct {
	Store DecisionStore
	GPs   GPRegister
	Keys  *personkey.Keyer
}

// Decide answers whether a health professional may see a resource of a
// person's. The person's settings cost one read; the GP register is asked
// only when "only the GP" decides it.
func (d *Decider) Decide(ctx context.Context, person nin.ID, q Question) (Decision, error) {
	st, optedOut, err := d.Store.DecisionFacts(ctx, d.Keys.Key(person))
	if err != nil {
		return Decision{}, fmt.Errorf("read decision facts: %w", err)
	}
	f := Facts{State: st, SCROptedOut: optedOut}
	if NeedsGP(q, st) {
		gp, ok, err := d.GPs.GP(ctx, person)
		if err != nil {
			return Decision{}, fmt.Errorf("ask the GP register: %w", err)
		}
		if ok {
			f.GP = gp
		}
	}
	return Decide(q, f), nil
}

// Export reads everything the FHIR view needs (the same single read).
func (d *Decider) Export(ctx context.Context, person nin.ID) (personkey.Key, State, error) {
	key := d.Keys.Key(person)
	st, _, err := d.Store.DecisionFacts(ctx, key)
	if err != nil {
		return "", State{}, fmt.Errorf("read sector settings: %w", err)
	}
	return key, st, nil
}
