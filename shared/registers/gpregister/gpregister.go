// Package gpregister adapts the GP register (fastlegeregisteret), which
// says who a person's GP (fastlege) is. Only a stand-in exists so far: the
// register is out of reach for this project, and a real adapter is out of
// scope until an issue asks for it.
package gpregister

import (
	"context"
	"crypto/sha256"
	"fmt"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/sectoraccess"
)

// Fake is a STAND-IN for the GP register. A person listed in GPs has that
// GP (an empty value: no GP); anyone else gets a made-up but stable GP: an
// HPR number of the valid form derived from a hash of the person id, so the
// same person always has the same one. Nothing it returns is real.
type Fake struct {
	GPs map[string]sectoraccess.HPR // by person id digits
}

// GP implements sectoraccess.GPRegister.
func (f Fake) GP(_ context.Context, person nin.ID) (sectoraccess.HPR, bool, error) {
	if h, ok := f.GPs[person.Digits()]; ok {
		return h, h != "", nil
	}
	return StandIn(person), true, nil
}

// StandIn is the made-up GP the fake gives a person it has no entry for.
func StandIn(person nin.ID) sectoraccess.HPR {
	sum := sha256.Sum256([]byte("gp-register-fake\x00" + person.Digits()))
	n := (uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])) % 1_000_000
	return sectoraccess.HPR(fmt.Sprintf("9%06d", n))
}
