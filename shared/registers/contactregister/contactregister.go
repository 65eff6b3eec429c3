// Package contactregister adapts the contact register (Kontakt- og
// reservasjonsregisteret, KRR), where people keep the phone number and
// e-mail address the public sector uses. Only a stand-in exists so far: the
// real adapter (Digdir's KRR API with a Maskinporten token) is out of scope.
package contactregister

import (
	"context"
	"crypto/sha256"
	"fmt"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/profile"
)

// Fake is a STAND-IN for the KRR adapter, used until the real one exists.
// It answers every person with made-up but stable details (the same person
// always gets the same ones): a Norwegian mobile number and an address on
// example.invalid, which can never receive mail. Nothing it returns is real.
type Fake struct{}

// Contact implements profile.ContactRegister.
func (Fake) Contact(_ context.Context, id nin.ID) (profile.ContactDetails, error) {
	sum := sha256.Sum256([]byte("contact-register-fake\x00" + id.Digits()))
	n := (uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])) % 10_000_000
	return profile.ContactDetails{
		Phone: fmt.Sprintf("+479%07d", n),
		Email: fmt.Sprintf("person-%x@example.invalid", sum[3:7]),
	}, nil
}
