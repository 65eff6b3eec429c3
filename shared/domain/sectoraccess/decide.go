package sectoraccess

import (
	"slices"

	"privacycore/shared/domain"
)

// Resource is what a health professional asks to see.
type Resource string

// The resources the sector asks about.
const (
	Prescription       Resource = "prescription"
	SummaryCareRecord  Resource = "summary_care_record"
	AppointmentHistory Resource = "appointment_history"
)

// Rule names the rule that decided. Every setting is its own rule (its
// Setting name); NoRestriction allows when no setting applies.
type Rule string

// The rules beyond the settings' own names.
const (
	NoRestriction Rule = "no_restriction"
	// SCROptedOut: the person has opted out of having a summary care
	// record (a privacy setting of its own), so there is nothing to see.
	SCROptedOut Rule = "scr_opted_out"
	// RxPrescriptionLimited, RxProfessionalBlocked, RxNotGP,
	// SCRProfessionalBlocked, SCRAppointmentHistory, SCRAccessLimited and
	// SCRLimitedEmergency are the settings' rules.
	RxPrescriptionLimited  = Rule(RxLimitedPrescriptions)
	RxProfessionalBlocked  = Rule(RxBlockedProfessionals)
	RxNotGP                = Rule(RxOnlyGP)
	SCRProfessionalBlocked = Rule(SCRBlockedProfessionals)
	SCRAppointmentHistory  = Rule(SCRAppointmentHistoryBlocked)
	SCRAccessLimited       = Rule(SCRLimited)
	// SCRLimitedEmergency allows a limited summary care record because the
	// enforcing system states an emergency.
	SCRLimitedEmergency Rule = "scr_limited_emergency"
)

// Rules lists every rule a decision can name, for documentation and tests.
var Rules = []Rule{NoRestriction, SCROptedOut, RxPrescriptionLimited, RxProfessionalBlocked, RxNotGP,
	SCRProfessionalBlocked, SCRAppointmentHistory, SCRAccessLimited, SCRLimitedEmergency}

// Question is what the enforcing system asks.
type Question struct {
	Professional HPR
	Resource     Resource
	Prescription string // for Prescription: the prescription id
	// Emergency: the professional acts in an emergency (opens a limited
	// summary care record; it never lifts a block of a named professional).
	Emergency bool
}

// ParseResource validates a resource name.
func ParseResource(s string) (Resource, error) {
	switch r := Resource(s); r {
	case Prescription, SummaryCareRecord, AppointmentHistory:
		return r, nil
	}
	return "", domain.Errorf(domain.EInvalid, "unknown_resource", "resource must be prescription, summary_care_record or appointment_history.")
}

// Facts are what a decision needs, read beforehand.
type Facts struct {
	State State
	// SCROptedOut: the person has opted out of the summary care record.
	SCROptedOut bool
	// GP is the person's GP from the GP register ("" if none); read only
	// when RxOnlyGP is set.
	GP HPR
}

// Decision is the answer and the rule that gave it.
type Decision struct {
	Allowed bool
	Rule    Rule
}

// Decide applies the settings. A block of a named professional is the most
// specific rule and wins; then the broad rules; a limitation last.
func Decide(q Question, f Facts) Decision {
	switch q.Resource {
	case Prescription:
		p := f.State.Prescriptions
		switch {
		case slices.Contains(p.Blocked, q.Professional):
			return deny(RxProfessionalBlocked)
		case p.OnlyGP && (f.GP == "" || f.GP != q.Professional):
			return deny(RxNotGP)
		case slices.Contains(p.Limited, q.Prescription):
			return deny(RxPrescriptionLimited)
		}
		return allow(NoRestriction)
	case SummaryCareRecord, AppointmentHistory:
		s := f.State.SCR
		switch {
		case f.SCROptedOut:
			return deny(SCROptedOut)
		case slices.Contains(s.Blocked, q.Professional):
			return deny(SCRProfessionalBlocked)
		case q.Resource == AppointmentHistory && s.AppointmentHistoryBlocked:
			return deny(SCRAppointmentHistory)
		case s.Limited && q.Emergency:
			return allow(SCRLimitedEmergency)
		case s.Limited:
			return deny(SCRAccessLimited)
		}
		return allow(NoRestriction)
	}
	return deny("unknown_resource") // ParseResource keeps other resources out
}

// NeedsGP reports whether deciding q needs the person's GP.
func NeedsGP(q Question, st State) bool {
	return q.Resource == Prescription && st.Prescriptions.OnlyGP && !slices.Contains(st.Prescriptions.Blocked, q.Professional)
}

func allow(r Rule) Decision { return Decision{Allowed: true, Rule: r} }
func deny(r Rule) Decision  { return Decision{Rule: r} }

// ParseQuestion validates a question from the enforcing system: a valid HPR
// number, a known resource, and a prescription id exactly when the
// resource is a prescription.
func ParseQuestion(professional, resource, prescription string, emergency bool) (Question, error) {
	h, err := ParseHPR(professional)
	if err != nil {
		return Question{}, err
	}
	r, err := ParseResource(resource)
	if err != nil {
		return Question{}, err
	}
	q := Question{Professional: h, Resource: r, Emergency: emergency}
	switch {
	case r == Prescription && prescription == "":
		return Question{}, domain.Errorf(domain.EInvalid, "missing_field", "prescriptionId is required for a prescription.")
	case r == Prescription:
		if q.Prescription, err = ParsePrescriptionID(prescription); err != nil {
			return Question{}, err
		}
	case prescription != "":
		return Question{}, domain.Errorf(domain.EInvalid, "unexpected_field", "prescriptionId is only for a prescription.")
	}
	return q, nil
}
