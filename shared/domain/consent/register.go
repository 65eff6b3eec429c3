package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
)

// Standing is a person's standing in the population register, as far as
// giving consent is concerned.
type Standing string

// The standings.
const (
	StandingAlive        Standing = "alive"
	StandingDeceased     Standing = "deceased"
	StandingDiscontinued Standing = "discontinued" // the register entry is closed (merged, replaced)
	StandingNotFound     Standing = "not_found"
)

// Register is the population register: giving consent looks the person up
// (design: consent fetches from the population register).
type Register interface {
	Lookup(ctx context.Context, id nin.ID) (Registered, error)
}

// Registered is what giving consent learns from the register.
type Registered struct {
	Standing Standing
	// Children are those the person has parental responsibility for now.
	Children []Child
}

// Child is a current parental responsibility, from the parent's side.
type Child struct {
	ID    nin.ID
	Since time.Time
}

// Relations imports the parental responsibilities a person has when they
// give consent: the register feed only reports changes, and skips persons
// the core does not know yet, so a parent who arrives later would otherwise
// have no children. The import goes through the notices (same rules, same
// idempotence as the feed).
type Relations interface {
	ImportChildren(ctx context.Context, parent nin.ID, children []Child) error
}

// RegisterTimeout is how long giving consent waits for the population
// register. The citizen is waiting on the page: after this the consent is
// not given and they are told to try again (503 register_unavailable);
// nothing is stored. Failing closed keeps a misused login of a dead person,
// whom the core may never have known, from consenting while the register
// is down.
const RegisterTimeout = 2 * time.Second

// checkRegister refuses consent for a person the register does not show
// alive and current; it returns what the register said.
func (s *Service) checkRegister(ctx context.Context, p Person) (Registered, error) {
	if s.Register == nil || p.ID == (nin.ID{}) {
		return Registered{}, nil
	}
	timeout := s.RegisterTimeout
	if timeout <= 0 {
		timeout = RegisterTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reg, err := s.Register.Lookup(ctx, p.ID)
	if err != nil {
		s.registerError(ctx, err)
		return reg, domain.Errorf(domain.EUnavailable, "register_unavailable",
			"The population register did not answer, so consent was not given. Nothing was changed; please try again in a minute.")
	}
	switch reg.Standing {
	case StandingAlive:
		return reg, nil
	case StandingDeceased:
		return reg, domain.Errorf(domain.EForbidden, "deceased", "The population register reports this person as deceased.")
	case StandingDiscontinued:
		return reg, domain.Errorf(domain.EForbidden, "discontinued", "The population register has closed this person's entry; consent cannot be given under this id.")
	case StandingNotFound:
		return reg, domain.Errorf(domain.EForbidden, "not_in_population_register", "The population register has no person with this id.")
	}
	return reg, fmt.Errorf("register standing %q: %w", reg.Standing, errUnknownStanding)
}

// importChildren hands the person's children to Relations after consent
// was given. A failure does not undo the consent: it is logged, and the
// next register change about the child brings the relation.
func (s *Service) importChildren(ctx context.Context, p Person, reg Registered) {
	if s.Relations == nil || len(reg.Children) == 0 {
		return
	}
	if err := s.Relations.ImportChildren(ctx, p.ID, reg.Children); err != nil {
		s.registerError(ctx, fmt.Errorf("import parental responsibilities: %w", err))
	}
}

func (s *Service) registerError(ctx context.Context, err error) {
	if s.OnRegisterError != nil {
		s.OnRegisterError(ctx, err)
	}
}

var errUnknownStanding = errors.New("unknown standing")
