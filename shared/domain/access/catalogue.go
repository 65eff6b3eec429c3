// Package access decides whether an actor may use a portal service for a
// person (themself, a child, or someone who gave them a power of attorney),
// and says which rule decided. The rules are pure functions of facts read
// beforehand, so a decision costs no I/O and can be tested exhaustively.
package access

import (
	"time"

	"privacycore/shared/domain/consent"
)

// Area is one of the three service areas a power of attorney can cover. The
// sources do not name them; these names are ours, written down only here.
type Area string

// The attorney service areas.
const (
	// AreaCommunication: contact with the health service — messages,
	// writing to providers, appointments, referrals, letters and forms, GP
	// and health contacts, patient travel.
	AreaCommunication Area = "communication"
	// AreaHealthData: insight into health data — patient records, summary
	// care record, medicines, vaccinations, test results, documents,
	// registries, and asking for corrections in them.
	AreaHealthData Area = "health_data"
	// AreaAdministration: rights and administration — exemption card and
	// user fees, research participation, tools.
	AreaAdministration Area = "administration"
)

// Areas lists the attorney service areas.
var Areas = []Area{AreaCommunication, AreaHealthData, AreaAdministration}

// Service is one portal service and what it takes to use it.
type Service struct {
	ID    string
	Level consent.Level // the consent level the person must have given
	// PatientTravel: also needs the separate patient-travel consent.
	PatientTravel bool
	// ChildUnder12 and Child12To16: parents may use it for a child of that age.
	ChildUnder12, Child12To16 bool
	// Area: the power-of-attorney area that covers it; "" if an attorney
	// can never use it (own settings, personal declarations).
	Area Area
	// PatientRecord: shows patient-record content (removable digital access).
	PatientRecord bool
	// SummaryCareRecord: shows the summary care record (removable, opt-out).
	SummaryCareRecord bool
	// SignificantSince marks a service added as a significant change: a
	// power of attorney confirmed before this date does not cover it until
	// the grantor confirms the grant again. Zero: not significant.
	SignificantSince time.Time
}

// Significant reports whether a grant confirmed at confirmedAt must be
// confirmed again before it covers s.
func (s Service) Significant(confirmedAt time.Time) bool {
	return !s.SignificantSince.IsZero() && confirmedAt.Before(s.SignificantSince)
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic("access: bad date " + s)
	}
	return t
}

// Catalogue is every service named in the sources (README, "The service
// catalogue", has the same table and says where the two pages disagree; a
// test keeps them equal). Adding a service is one line; a new service in an
// area is covered by existing powers of attorney in that area automatically,
// unless it is marked significant.
var Catalogue = []Service{
	// Basic (Basis): own data except patient records.
	{ID: "gp_info", Level: consent.Basic, ChildUnder12: true, Area: AreaCommunication},
	{ID: "exemption_card", Level: consent.Basic, Area: AreaAdministration},
	{ID: "health_registries", Level: consent.Basic, ChildUnder12: true, Child12To16: true, Area: AreaHealthData},
	{ID: "research", Level: consent.Basic, ChildUnder12: true, Child12To16: true, Area: AreaAdministration},
	{ID: "change_gp", Level: consent.Basic, ChildUnder12: true, Child12To16: true, Area: AreaCommunication},
	{ID: "registry_correction", Level: consent.Basic, Area: AreaHealthData},
	{ID: "profile", Level: consent.Basic, ChildUnder12: true, Child12To16: true},
	{ID: "consents_overview", Level: consent.Basic},
	{ID: "privacy_settings", Level: consent.Basic},
	{ID: "powers_of_attorney", Level: consent.Basic},
	{ID: "usage_log", Level: consent.Basic, ChildUnder12: true},
	{ID: "messages", Level: consent.Basic, ChildUnder12: true, Child12To16: true, Area: AreaCommunication},
	{ID: "gp_office_messages", Level: consent.Basic, ChildUnder12: true, Area: AreaCommunication},
	{ID: "summary_care_record", Level: consent.Basic, ChildUnder12: true, Area: AreaHealthData, SummaryCareRecord: true},
	{ID: "scr_settings", Level: consent.Basic, ChildUnder12: true},
	// Basic+ (Basis+): patient records, who looked them up, corrections.
	{ID: "patient_record", Level: consent.BasicPlus, ChildUnder12: true, Area: AreaHealthData, PatientRecord: true},
	{ID: "patient_record_access_log", Level: consent.BasicPlus, ChildUnder12: true, Area: AreaHealthData, PatientRecord: true},
	{ID: "patient_record_correction", Level: consent.BasicPlus, Area: AreaHealthData, PatientRecord: true},
	// Full (Full tilgang): everything else.
	{ID: "appointments", Level: consent.Full, ChildUnder12: true, Area: AreaCommunication},
	{ID: "referrals", Level: consent.Full, ChildUnder12: true, Area: AreaCommunication},
	{ID: "test_results", Level: consent.Full, Area: AreaHealthData},
	{ID: "letters_and_forms", Level: consent.Full, Area: AreaCommunication},
	{ID: "write_to_providers", Level: consent.Full, Area: AreaCommunication, SignificantSince: day("2026-11-01")},
	{ID: "medicines", Level: consent.Full, ChildUnder12: true, Child12To16: true, Area: AreaHealthData},
	{ID: "prescription_renewal", Level: consent.Full, Area: AreaHealthData},
	{ID: "prescription_access_log", Level: consent.Full, ChildUnder12: true, Area: AreaHealthData},
	{ID: "health_contacts", Level: consent.Full, ChildUnder12: true, Child12To16: true, Area: AreaCommunication},
	{ID: "pathway_coordinator", Level: consent.Full, ChildUnder12: true, Child12To16: true, Area: AreaCommunication},
	{ID: "vaccinations", Level: consent.Full, ChildUnder12: true, Child12To16: true, Area: AreaHealthData},
	{ID: "patient_travel", Level: consent.Full, PatientTravel: true, Area: AreaCommunication},
	{ID: "critical_info", Level: consent.Full, ChildUnder12: true, Area: AreaHealthData, SummaryCareRecord: true},
	{ID: "documents", Level: consent.Full, ChildUnder12: true, Area: AreaHealthData},
	{ID: "organ_donor_card", Level: consent.Full, SummaryCareRecord: true},
	{ID: "scr_own_entries", Level: consent.Full, ChildUnder12: true, SummaryCareRecord: true},
	{ID: "tools", Level: consent.Full, Area: AreaAdministration},
	{ID: "gp_digital_services", Level: consent.Full, Area: AreaCommunication},
	{ID: "new_health_services", Level: consent.Full, Area: AreaHealthData},
}

var byID = func() map[string]Service {
	m := make(map[string]Service, len(Catalogue))
	for _, s := range Catalogue {
		if _, dup := m[s.ID]; dup {
			panic("access: duplicate service " + s.ID)
		}
		m[s.ID] = s
	}
	return m
}()

// Lookup returns a service by id.
func Lookup(id string) (Service, bool) {
	s, ok := byID[id]
	return s, ok
}

// ValidArea reports whether a is one of the three areas.
func ValidArea(a Area) bool {
	for _, x := range Areas {
		if x == a {
			return true
		}
	}
	return false
}

// ParentAgeLimit is the age under which a parent may use s for their child,
// from its child bands: ParentAccessEnds when open to 12–15-year-olds,
// ChildRestrictedAge when open only under 12, 0 when never.
func (s Service) ParentAgeLimit() int {
	switch {
	case s.Child12To16:
		return ParentAccessEnds
	case s.ChildUnder12:
		return ChildRestrictedAge
	}
	return 0
}
