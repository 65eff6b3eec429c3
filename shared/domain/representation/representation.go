// Package representation is acting for someone else: giving, changing and
// ending powers of attorney, and the person selector (whom the caller may act
// for, with which services now). The rules for a grant's terms are in poa;
// whether a use is allowed is decided by access.
package representation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/poa"
)

// Grants stores powers of attorney, both sides of each.
type Grants interface {
	// CreateGrant returns poa.ErrGrantExists if the pair has one already.
	CreateGrant(ctx context.Context, g poa.Grant) error
	Grants(ctx context.Context, key personkey.Key) (given, received []poa.Grant, err error)
	// GivenGrant returns poa.ErrGrantNotFound unless grantor gave grant id.
	GivenGrant(ctx context.Context, grantor personkey.Key, id string) (poa.Grant, error)
	// UpdateGrant returns poa.ErrConcurrentUpdate unless the grant is still at version expect.
	UpdateGrant(ctx context.Context, g poa.Grant, expect int64) error
	// DeleteGrant returns poa.ErrGrantNotFound if the grant is gone.
	DeleteGrant(ctx context.Context, g poa.Grant) error
}

// Children lists the person keys a parent has parental responsibility for.
type Children interface {
	Children(ctx context.Context, parent personkey.Key) ([]personkey.Key, error)
}

// Service gives, changes and ends powers of attorney and lists whom a
// person may act for.
type Service struct {
	Grants   Grants
	Children Children
	Records  access.RecordsReader
	Keys     *personkey.Keyer
	IDs      nin.Rules // which person ids the stack accepts in a request
	Now      func() time.Time
	NewID    func() string
}

// GrantRequest asks to give a power of attorney. ValidFrom nil means now.
type GrantRequest struct {
	Grantor   nin.ID
	Grantee   string
	Areas     []access.Area
	ValidFrom *time.Time
	ValidTo   time.Time
}

// Grant gives a power of attorney from the caller to the grantee.
func (s *Service) Grant(ctx context.Context, r GrantRequest) (poa.Grant, error) {
	grantee, err := s.IDs.Parse(r.Grantee)
	if err != nil {
		return poa.Grant{}, domain.Errorf(domain.EInvalid, "invalid_grantee", "grantee is not a valid person id.")
	}
	now := s.Now().UTC()
	from := now
	if r.ValidFrom != nil {
		from = r.ValidFrom.UTC()
	}
	req := poa.Request{Grantor: r.Grantor, Grantee: grantee, Areas: r.Areas, ValidFrom: from, ValidTo: r.ValidTo.UTC()}
	if err := req.Validate(now); err != nil {
		return poa.Grant{}, err
	}
	grantor := s.Keys.Key(r.Grantor)
	if err := s.open(ctx, grantor); err != nil {
		return poa.Grant{}, err
	}
	granteeKey := s.Keys.Key(grantee)
	parties, err := s.Records.AccessRecords(ctx, grantor, granteeKey)
	if err != nil {
		return poa.Grant{}, err
	}
	if err := poa.CheckAlive(parties.ActorDeceased, parties.Subject.Deceased); err != nil {
		return poa.Grant{}, err
	}
	g := poa.Grant{
		ID: s.NewID(), Grantor: grantor, Grantee: granteeKey, Areas: poa.Normalize(r.Areas),
		ValidFrom: from, ValidTo: req.ValidTo, CreatedAt: now, UpdatedAt: now, ConfirmedAt: now, Version: 1,
	}
	switch err := s.Grants.CreateGrant(ctx, g); {
	case errors.Is(err, poa.ErrGrantExists):
		return poa.Grant{}, domain.Errorf(domain.EConflict, "grant_exists", "You have already given this person a power of attorney; change it instead.")
	case errors.Is(err, poa.ErrGrantorDeceased), errors.Is(err, poa.ErrGranteeDeceased):
		return poa.Grant{}, poa.CheckAlive(errors.Is(err, poa.ErrGrantorDeceased), errors.Is(err, poa.ErrGranteeDeceased))
	case err != nil:
		return poa.Grant{}, err
	}
	return g, nil
}

// open: giving or changing a power of attorney is a logged-in service: it
// needs the grantor's active consent, and no emergency block or registered
// death (its reach is the grantor's own access anyway).
func (s *Service) open(ctx context.Context, key personkey.Key) error {
	recs, err := s.Records.AccessRecords(ctx, key, key)
	if err != nil {
		return err
	}
	switch bar := recs.Subject.Barred(); bar {
	case access.RuleDeceased:
		return domain.Errorf(domain.EForbidden, string(bar), "The population register reports this person as deceased.")
	case access.RuleEmergencyBlock:
		return domain.Errorf(domain.EForbidden, string(bar), "Logged-in services are blocked for you.")
	}
	if recs.Subject.Consent.Status != consent.StatusActive {
		return domain.Errorf(domain.EForbidden, "consent_required", "Give consent to use Helsenorge before you give a power of attorney.")
	}
	return nil
}

// List returns the grants the caller has given and received.
func (s *Service) List(ctx context.Context, caller nin.ID) (given, received []poa.Grant, err error) {
	return s.Grants.Grants(ctx, s.Keys.Key(caller))
}

// Change asks to change a grant's terms; nil fields stay as they are.
type Change struct {
	Areas     []access.Area
	ValidFrom *time.Time
	ValidTo   *time.Time
}

// Change changes a grant the caller gave.
func (s *Service) Change(ctx context.Context, caller nin.ID, id string, c Change) (poa.Grant, error) {
	g, err := s.own(ctx, caller, id)
	if err != nil {
		return poa.Grant{}, err
	}
	if err := s.open(ctx, g.Grantor); err != nil {
		return poa.Grant{}, err
	}
	next := g
	if c.Areas != nil {
		next.Areas = poa.Normalize(c.Areas)
	}
	if c.ValidFrom != nil {
		next.ValidFrom = c.ValidFrom.UTC()
	}
	if c.ValidTo != nil {
		next.ValidTo = c.ValidTo.UTC()
	}
	now := s.Now().UTC()
	if err := poa.ValidateTerms(next.Areas, next.ValidFrom, next.ValidTo, now); err != nil {
		return poa.Grant{}, err
	}
	next.Version, next.UpdatedAt = g.Version+1, now
	if err := s.Grants.UpdateGrant(ctx, next, g.Version); errors.Is(err, poa.ErrConcurrentUpdate) {
		return poa.Grant{}, domain.Errorf(domain.EConflict, "concurrent_update", "The power of attorney was changed or ended meanwhile. Read it again and retry.")
	} else if err != nil {
		return poa.Grant{}, err
	}
	return next, nil
}

// Confirm confirms a grant the caller gave again, so that it covers the
// services added as significant changes since it was last confirmed. A
// grant that needs no confirmation is returned as it is (idempotent).
func (s *Service) Confirm(ctx context.Context, caller nin.ID, id string) (poa.Grant, error) {
	g, err := s.own(ctx, caller, id)
	if err != nil {
		return poa.Grant{}, err
	}
	if err := s.open(ctx, g.Grantor); err != nil {
		return poa.Grant{}, err
	}
	if len(g.NeedsConfirmation()) == 0 {
		return g, nil
	}
	now := s.Now().UTC()
	next := g
	next.ConfirmedAt, next.UpdatedAt, next.Version = now, now, g.Version+1
	if err := s.Grants.UpdateGrant(ctx, next, g.Version); errors.Is(err, poa.ErrConcurrentUpdate) {
		return poa.Grant{}, domain.Errorf(domain.EConflict, "concurrent_update", "The power of attorney was changed or ended meanwhile. Read it again and retry.")
	} else if err != nil {
		return poa.Grant{}, err
	}
	return next, nil
}

// End ends a grant the caller gave, at once, and returns it as it was.
func (s *Service) End(ctx context.Context, caller nin.ID, id string) (poa.Grant, error) {
	g, err := s.own(ctx, caller, id)
	if err != nil {
		return poa.Grant{}, err
	}
	if err := s.Grants.DeleteGrant(ctx, g); errors.Is(err, poa.ErrGrantNotFound) {
		return poa.Grant{}, domain.Errorf(domain.ENotFound, "grant_not_found", "The power of attorney no longer exists.")
	} else if err != nil {
		return poa.Grant{}, err
	}
	return g, nil
}

// own finds a grant the caller gave. Only the grantor's own partition is
// searched: an id given by someone else is simply not found (no IDOR).
func (s *Service) own(ctx context.Context, caller nin.ID, id string) (poa.Grant, error) {
	notFound := domain.Errorf(domain.ENotFound, "grant_not_found", "You have not given a power of attorney with this id.")
	if !domain.ValidID(id) {
		return poa.Grant{}, notFound
	}
	g, err := s.Grants.GivenGrant(ctx, s.Keys.Key(caller), id)
	if errors.Is(err, poa.ErrGrantNotFound) {
		return poa.Grant{}, notFound
	}
	return g, err
}

// Relations in the person selector.
const (
	RelationSelf    = "self"
	RelationChild   = "child"
	RelationGrantor = "grantor"
)

// Person is someone the caller may act for, with the services available
// now. Ref is their person key, never their id.
type Person struct {
	Ref      personkey.Key
	Relation string
	Age      *int       // children only
	ValidTo  *time.Time // grantors only: when the power of attorney ends
	Services []string
	// NeedsConfirmation (grantors only): services in the grant's areas the
	// grantor must confirm the grant again for.
	NeedsConfirmation []string
}

// People lists whom the caller may act for: themself, children under 16
// and grantors of active powers of attorney. It reads each one's access
// records once.
func (s *Service) People(ctx context.Context, caller nin.ID) ([]Person, error) {
	now := s.Now()
	me := s.Keys.Key(caller)
	recs, err := s.records(ctx, me, me)
	if err != nil {
		return nil, err
	}
	if !access.MayAct(recs.ActorDeceased) {
		return []Person{}, nil
	}
	people := []Person{person(recs, me, me, RelationSelf, caller.BirthDate(), now)}
	children, err := s.Children.Children(ctx, me)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		recs, err := s.records(ctx, me, c)
		if err != nil {
			return nil, err
		}
		if !recs.ParentOfChildUnder(access.ParentAccessEnds, now) {
			continue
		}
		people = append(people, person(recs, me, c, RelationChild, recs.ChildBirth, now))
	}
	_, received, err := s.Grants.Grants(ctx, me)
	if err != nil {
		return nil, err
	}
	for _, g := range received {
		if g.Status(now) != "active" {
			continue
		}
		recs, err := s.records(ctx, me, g.Grantor)
		if err != nil {
			return nil, err
		}
		people = append(people, person(recs, me, g.Grantor, RelationGrantor, nin.Date{}, now))
	}
	return people, nil
}

func (s *Service) records(ctx context.Context, me, subject personkey.Key) (access.Records, error) {
	recs, err := s.Records.AccessRecords(ctx, me, subject)
	if err != nil {
		return access.Records{}, fmt.Errorf("read access records: %w", err)
	}
	return recs, nil
}

// person decides every catalogue service for one subject from their
// records (birth, when known, overrides the stored one).
func person(recs access.Records, me, subject personkey.Key, relation string, birth nin.Date, now time.Time) Person {
	f := access.Facts{Self: subject == me, Subject: recs.Subject, Link: recs.Link, Grant: recs.Grant, ActorDeceased: recs.ActorDeceased, Now: now}
	if birth != (nin.Date{}) {
		f.Subject.Birth = birth
	}
	p := Person{Ref: subject, Relation: relation, Services: []string{}}
	for _, svc := range access.Catalogue {
		f.Service = svc
		if d := access.Decide(f); d.Allowed {
			p.Services = append(p.Services, svc.ID)
		}
	}
	if relation == RelationChild {
		age := clock.Age(f.Subject.Birth, now)
		p.Age = &age
	}
	if relation == RelationGrantor && recs.Grant != nil {
		to := recs.Grant.ValidTo
		p.ValidTo = &to
		p.NeedsConfirmation = recs.Grant.NeedsConfirmation()
	}
	return p
}
