package sectoraccess

import "privacycore/shared/domain"

// Purpose is a use of the person's health data for research or in a health
// registry that the person can consent to or reserve against.
type Purpose string

// Kind says whether a purpose needs consent (off until the person says yes)
// or allows a reservation (on until the person says no).
type Kind string

// The kinds.
const (
	KindConsent     Kind = "consent"
	KindReservation Kind = "reservation"
)

// PurposeInfo describes one purpose.
type PurposeInfo struct {
	ID   Purpose
	Kind Kind
	// Scope is the FHIR Consent scope: research, or patient-privacy for
	// health registries.
	Scope string
}

// Default is whether the purpose may use the data when the person has made
// no choice: only with consent, or until a reservation.
func (p PurposeInfo) Default() bool { return p.Kind == KindReservation }

// Purposes is the catalogue of research and registry choices. The seeds
// name the service ("how your health data can be used for research and in
// health registries") and one study (HUNT), not the list; these are ours,
// written down only here and in the README.
var Purposes = []PurposeInfo{
	// Taking part in the HUNT study (Helseundersøkelsen i Nord-Trøndelag),
	// the one survey the services page names: consent-based.
	{ID: "hunt", Kind: KindConsent, Scope: "research"},
	// Being asked to take part in research projects: consent-based.
	{ID: "research_contact", Kind: KindConsent, Scope: "research"},
	// Medical quality registries that hold data until the person reserves
	// against it (reservasjonsrett).
	{ID: "quality_registries", Kind: KindReservation, Scope: "patient-privacy"},
}

// LookupPurpose returns a purpose of the catalogue.
func LookupPurpose(id string) (PurposeInfo, error) {
	for _, p := range Purposes {
		if string(p.ID) == id {
			return p, nil
		}
	}
	return PurposeInfo{}, domain.Errorf(domain.ENotFound, "unknown_purpose", "There is no such research or registry purpose.")
}

// Allowed is whether the purpose may use the person's data now.
func (s State) Allowed(p PurposeInfo) bool {
	if v, ok := s.Research[p.ID]; ok {
		return v
	}
	return p.Default()
}
