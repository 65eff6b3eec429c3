package persontjenesten

import (
	"context"
	"errors"
	"fmt"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/profile"
	"privacycore/shared/domain/registerfeed"
)

// Standing adapts the register to consent.Register: a look-up by national
// id with the Death and Status parts only.
type Standing struct{ Client *Client }

// Standing implements consent.Register. The caller's deadline bounds it
// (retries included).
func (s Standing) Standing(ctx context.Context, id nin.ID) (consent.Standing, error) {
	p, err := s.Client.ByNIN(ctx, id, []string{registerfeed.PartDeath, registerfeed.PartStatus})
	switch {
	case errors.Is(err, ErrNotFound):
		return consent.StandingNotFound, nil
	case err != nil:
		return "", fmt.Errorf("population register look-up: %w", err)
	case p.Death != nil && p.Death.Valid, p.Status == registerfeed.StatusDeceased:
		return consent.StandingDeceased, nil
	case p.Status == registerfeed.StatusDiscontinued:
		return consent.StandingDiscontinued, nil
	}
	return consent.StandingAlive, nil
}

// ContactTimeout bounds a contact-register look-up for the profile page:
// the rest of the profile is shown without contact details after it.
const ContactTimeout = 2 * time.Second

// Contacts adapts the contact register's part (KRR data, served by
// Persontjenesten) to profile.ContactRegister. Nothing is stored.
type Contacts struct{ Client *Client }

// Contact implements profile.ContactRegister.
func (c Contacts) Contact(ctx context.Context, id nin.ID) (profile.ContactDetails, error) {
	ctx, cancel := context.WithTimeout(ctx, ContactTimeout)
	defer cancel()
	p, err := c.Client.ByNIN(ctx, id, []string{registerfeed.PartContact})
	if err != nil {
		return profile.ContactDetails{}, fmt.Errorf("contact register look-up: %w", err)
	}
	if p.Contact == nil {
		return profile.ContactDetails{}, nil
	}
	return profile.ContactDetails{Phone: p.Contact.Phone, Email: p.Contact.Email}, nil
}
