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
// id with the Death, Status and ParentalResponsibility parts only.
type Standing struct{ Client *Client }

// Lookup implements consent.Register. The caller's deadline bounds it
// (retries included).
func (s Standing) Lookup(ctx context.Context, id nin.ID) (consent.Registered, error) {
	p, err := s.Client.ByNIN(ctx, id, []string{registerfeed.PartDeath, registerfeed.PartStatus, registerfeed.PartResponsibility})
	switch {
	case errors.Is(err, ErrNotFound):
		return consent.Registered{Standing: consent.StandingNotFound}, nil
	case err != nil:
		return consent.Registered{}, fmt.Errorf("population register look-up: %w", err)
	case p.Death != nil && p.Death.Valid, p.Status == registerfeed.StatusDeceased:
		return consent.Registered{Standing: consent.StandingDeceased}, nil
	case p.Status == registerfeed.StatusDiscontinued:
		return consent.Registered{Standing: consent.StandingDiscontinued}, nil
	}
	r := consent.Registered{Standing: consent.StandingAlive}
	for _, x := range p.Responsibilities {
		if !x.Valid || x.Parent != id.Digits() || x.Child == "" {
			continue // ended, the person is the child, or no identified child
		}
		child, err := nin.Parse(x.Child)
		if err != nil || child == id {
			continue // the feed dead-letters such a document; consent need not fail for it
		}
		r.Children = append(r.Children, consent.Child{ID: child, Since: x.From})
	}
	return r, nil
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
