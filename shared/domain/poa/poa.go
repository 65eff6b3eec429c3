// Package poa holds the rules for powers of attorney (fullmakt): who may
// grant one to whom, which areas, for how long. Whether an attorney may use a
// service is decided in package access, at the time of use.
package poa

import (
	"errors"
	"slices"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Ages the sources set.
const (
	MinGrantorAge = 16
	MinGranteeAge = 18
)

// Errors the grant store returns; the representation service turns them
// into the client's problem.
var (
	ErrGrantExists = errors.New("poa: the grantor already gave the grantee a power of attorney")
	// ErrGrantorDeceased, ErrGranteeDeceased: a death was registered for a
	// side just before the grant was written.
	ErrGrantorDeceased  = errors.New("poa: the grantor is registered dead")
	ErrGranteeDeceased  = errors.New("poa: the grantee is registered dead")
	ErrGrantNotFound    = errors.New("poa: no such power of attorney")
	ErrConcurrentUpdate = errors.New("poa: the power of attorney changed meanwhile")
)

// MaxValidity is the longest a power of attorney may run (our choice).
const MaxValidity = 10 * 365 * 24 * time.Hour

// Grant is a power of attorney as stored: one item on each side.
type Grant struct {
	ID        string
	Grantor   personkey.Key
	Grantee   personkey.Key
	Areas     []access.Area
	ValidFrom time.Time
	ValidTo   time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// ConfirmedAt is when the grantor last confirmed the grant: when given,
	// or confirmed again (a grant stored before it existed: CreatedAt).
	ConfirmedAt time.Time
	Version     int64
}

// Access is the grant as a decision sees it.
func (g Grant) Access() access.Grant {
	return access.Grant{Areas: g.Areas, ValidFrom: g.ValidFrom, ValidTo: g.ValidTo, ConfirmedAt: g.ConfirmedAt}
}

// NeedsConfirmation lists the services in the grant's areas that were added
// as significant changes after the grantor last confirmed it.
func (g Grant) NeedsConfirmation() []string {
	return g.Access().NeedsConfirmation()
}

// Status says whether a grant works now.
func (g Grant) Status(now time.Time) string {
	switch {
	case now.Before(g.ValidFrom):
		return "future"
	case !now.Before(g.ValidTo):
		return "expired"
	}
	return "active"
}

// Request asks to grant a power of attorney.
type Request struct {
	Grantor   nin.ID
	Grantee   nin.ID
	Areas     []access.Area
	ValidFrom time.Time
	ValidTo   time.Time
}

// Validate checks a request at time now.
func (r Request) Validate(now time.Time) error {
	if r.Grantor == r.Grantee {
		return domain.Errorf(domain.EInvalid, "grantee_is_grantor", "You cannot give a power of attorney to yourself.")
	}
	if clock.Age(r.Grantor.BirthDate(), now) < MinGrantorAge {
		return domain.Errorf(domain.EForbidden, "grantor_under_16", "You must be 16 or older to give a power of attorney.")
	}
	if clock.Age(r.Grantee.BirthDate(), now) < MinGranteeAge {
		return domain.Errorf(domain.EInvalid, "grantee_under_18", "The person receiving a power of attorney must be 18 or older.")
	}
	return ValidateTerms(r.Areas, r.ValidFrom, r.ValidTo, now)
}

// ValidateTerms checks areas and validity period.
func ValidateTerms(areas []access.Area, from, to, now time.Time) error {
	if len(areas) == 0 {
		return domain.Errorf(domain.EInvalid, "areas_required", "Choose at least one service area.")
	}
	seen := map[access.Area]bool{}
	for _, a := range areas {
		if !access.ValidArea(a) {
			return domain.Errorf(domain.EInvalid, "unknown_area", "The service area must be one of communication, health_data or administration.")
		}
		if seen[a] {
			return domain.Errorf(domain.EInvalid, "duplicate_area", "Each service area may be given once.")
		}
		seen[a] = true
	}
	switch {
	case from.IsZero() || to.IsZero():
		return domain.Errorf(domain.EInvalid, "validity_required", "validFrom and validTo are required.")
	case !to.After(from):
		return domain.Errorf(domain.EInvalid, "invalid_validity", "validTo must be after validFrom.")
	case !to.After(now):
		return domain.Errorf(domain.EInvalid, "invalid_validity", "validTo must be in the future.")
	case to.Sub(from) > MaxValidity:
		return domain.Errorf(domain.EInvalid, "validity_too_long", "A power of attorney can run for at most ten years.")
	}
	return nil
}

// Normalize sorts areas so equal grants compare equal.
func Normalize(areas []access.Area) []access.Area {
	out := slices.Clone(areas)
	slices.Sort(out)
	return out
}

// CheckAlive refuses a power of attorney to or from a person registered
// dead: a death ends every grant given and received, and none can start.
func CheckAlive(grantorDeceased, granteeDeceased bool) error {
	switch {
	case grantorDeceased:
		return domain.Errorf(domain.EForbidden, "deceased", "The population register reports you as deceased.")
	case granteeDeceased:
		return domain.Errorf(domain.EForbidden, "grantee_deceased", "The population register reports the person you name as deceased.")
	}
	return nil
}
