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
	Standing(ctx context.Context, id nin.ID) (Standing, error)
}

// RegisterTimeout is how long giving consent waits for the population
// register. The citizen is waiting on the page: after this the consent is
// not given and they are told to try again (503 register_unavailable);
// nothing is stored. Failing closed keeps a misused login of a dead person,
// whom the core may never have known, from consenting while the register
// is down.
const RegisterTimeout = 2 * time.Second

// checkRegister refuses consent for a person the register does not show
// alive and current.
func (s *Service) checkRegister(ctx context.Context, p Person) error {
	if s.Register == nil || p.ID == (nin.ID{}) {
		return nil
	}
	timeout := s.RegisterTimeout
	if timeout <= 0 {
		timeout = RegisterTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := s.Register.Standing(ctx, p.ID)
	if err != nil {
		if s.OnRegisterError != nil {
			s.OnRegisterError(ctx, err)
		}
		return domain.Errorf(domain.EUnavailable, "register_unavailable",
			"The population register did not answer, so consent was not given. Nothing was changed; please try again in a minute.")
	}
	switch st {
	case StandingAlive:
		return nil
	case StandingDeceased:
		return domain.Errorf(domain.EForbidden, "deceased", "The population register reports this person as deceased.")
	case StandingDiscontinued:
		return domain.Errorf(domain.EForbidden, "discontinued", "The population register has closed this person's entry; consent cannot be given under this id.")
	case StandingNotFound:
		return domain.Errorf(domain.EForbidden, "not_in_population_register", "The population register has no person with this id.")
	}
	return fmt.Errorf("register standing %q: %w", st, errUnknownStanding)
}

var errUnknownStanding = errors.New("unknown standing")
