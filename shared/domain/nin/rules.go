package nin

import (
	"errors"
	"fmt"
)

// Errors returned by Rules.Parse on top of Parse's. No message contains the
// input.
var (
	// ErrSynthetic means a synthetic test number where the stage does not
	// allow test ids (production).
	ErrSynthetic = errors.New("nin: synthetic test number not allowed here")
	// ErrFutureBirth means the birth date lies after today: nobody has it yet.
	ErrFutureBirth = errors.New("nin: birth date in the future")
)

// Rules are what a deployment accepts beyond a well-formed number. They are
// built once from the function's environment and passed down; the zero value
// refuses synthetic numbers and skips the birth-date check (set Today).
type Rules struct {
	// AllowSynthetic accepts synthetic test numbers (month + 80). Local and
	// dev stacks allow them; production refuses them.
	AllowSynthetic bool
	// Today returns today's civil date in Europe/Oslo; an id born after it
	// is refused. Nil skips the check.
	Today func() Date
}

// Parse parses s as Parse does, then applies the rules.
func (r Rules) Parse(s string) (ID, error) {
	id, err := Parse(s)
	if err != nil {
		return ID{}, err
	}
	if err := r.Check(id); err != nil {
		return ID{}, err
	}
	return id, nil
}

// Check applies the rules to an id that Parse accepted.
func (r Rules) Check(id ID) error {
	if id.Synthetic() && !r.AllowSynthetic {
		return ErrSynthetic
	}
	if r.Today != nil && after(id.BirthDate(), r.Today()) {
		return fmt.Errorf("%w", ErrFutureBirth)
	}
	return nil
}

func after(a, b Date) bool {
	if a.Year != b.Year {
		return a.Year > b.Year
	}
	if a.Month != b.Month {
		return a.Month > b.Month
	}
	return a.Day > b.Day
}
