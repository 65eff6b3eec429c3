package access

import (
	"slices"
	"time"

	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
)

// Rule names the rule that decided. The values are part of the API.
type Rule string

// The rules.
const (
	Allowed                    Rule = "allowed"
	RuleDeceased               Rule = "deceased"
	RuleActorDeceased          Rule = "actor_deceased"
	RuleEmergencyBlock         Rule = "emergency_block"
	RuleNoConsent              Rule = "no_consent"
	RuleConsentLevelTooLow     Rule = "consent_level_too_low"
	RulePatientTravelConsent   Rule = "patient_travel_consent_missing"
	RulePatientRecordRemoved   Rule = "patient_record_access_removed"
	RuleSummaryCareUnavailable Rule = "summary_care_record_unavailable"
	RuleNoRelation             Rule = "no_relation"
	RuleFosterParent           Rule = "foster_parent"
	RuleParentAccessEnded16    Rule = "parent_access_ended_16"
	RuleChildOver12Restricted  Rule = "child_over_12_restricted"
	RuleNotForChildren         Rule = "not_available_for_children"
	RulePOANotYetValid         Rule = "poa_not_yet_valid"
	RulePOAExpired             Rule = "poa_expired"
	RulePOAAreaNotGranted      Rule = "poa_area_not_granted"
	RuleNotByPOA               Rule = "not_available_by_poa"
	RuleGrantorLacksAccess     Rule = "grantor_lacks_access"
)

// Role is how the actor acts.
type Role string

// The roles.
const (
	RoleSelf     Role = "self"
	RoleParent   Role = "parent"
	RoleAttorney Role = "attorney"
	// RoleFoster: a foster parent, recorded by the register, who is not a
	// parent for the portal and gets nothing.
	RoleFoster Role = "foster_parent"
)

// Ages that change what parents may do.
const (
	ChildRestrictedAge = 12
	ParentAccessEnds   = 16
)

// Settings are a person's privacy settings that limit their own access.
type Settings struct {
	EmergencyBlock       bool
	PatientRecordRemoved bool
	SCRAccessRemoved     bool
	SCROptedOut          bool
}

// Person is what a decision needs to know about the represented person.
type Person struct {
	Birth    nin.Date
	Consent  consent.State
	Settings Settings
	Deceased bool
}

// Link is a register relation from the actor to a child.
type Link struct {
	Foster bool // a foster parent: no access through the portal
}

// Grant is a power of attorney from the subject to the actor.
type Grant struct {
	Areas     []Area
	ValidFrom time.Time
	ValidTo   time.Time
}

// Facts are everything a decision is made from, read in advance.
type Facts struct {
	Service Service
	Self    bool   // the actor is the subject
	Subject Person // the person whose service it is
	Link    *Link  // the actor's relation to the subject as a child, if any
	Grant   *Grant // the subject's power of attorney to the actor, if any
	// ActorDeceased: the actor is registered dead. From the death notice on
	// a person can do nothing, for themself or anyone else.
	ActorDeceased bool
	Now           time.Time
}

// Decision is an answer with the rule that gave it. For a denial through a
// power of attorney because the grantor cannot use the service themself,
// Because holds the grantor's own rule.
type Decision struct {
	Allowed bool
	Rule    Rule
	Because Rule
	Role    Role
}

// Decide applies the rules. Ages are computed at f.Now in Europe/Oslo, so a
// late or missed batch job can never make a decision wrong.
func Decide(f Facts) Decision {
	if f.ActorDeceased {
		return verdict(roleOf(f), RuleActorDeceased)
	}
	if f.Self {
		return verdict(RoleSelf, own(f.Service, f.Subject))
	}
	if f.Link != nil && !f.Link.Foster {
		age := clock.Age(f.Subject.Birth, f.Now)
		if age < ParentAccessEnds {
			return verdict(RoleParent, forChild(f.Service, f.Subject, age))
		}
		if f.Grant == nil {
			return verdict(RoleParent, RuleParentAccessEnded16)
		}
	}
	if f.Grant != nil {
		d := forAttorney(f.Service, f.Subject, *f.Grant, f.Now)
		d.Role = RoleAttorney
		return d
	}
	if f.Link != nil && f.Link.Foster {
		return verdict(RoleFoster, RuleFosterParent)
	}
	return verdict("", RuleNoRelation)
}

// roleOf is the role the actor would act in, as Decide picks it.
func roleOf(f Facts) Role {
	switch {
	case f.Self:
		return RoleSelf
	case f.Link != nil && !f.Link.Foster && (f.Grant == nil || clock.Age(f.Subject.Birth, f.Now) < ParentAccessEnds):
		return RoleParent
	case f.Grant != nil:
		return RoleAttorney
	case f.Link != nil:
		return RoleFoster
	}
	return ""
}

func verdict(role Role, r Rule) Decision {
	return Decision{Allowed: r == Allowed, Rule: r, Role: role}
}

// Barred is the floor of every logged-in service a person uses themself:
// RuleDeceased if they are registered dead, else RuleEmergencyBlock under an
// emergency block, else Allowed. Consent and its level are each service's
// own business.
func (p Person) Barred() Rule {
	switch {
	case p.Deceased:
		return RuleDeceased
	case p.Settings.EmergencyBlock:
		return RuleEmergencyBlock
	}
	return Allowed
}

// own is whether a person may use a service themself.
func own(s Service, p Person) Rule {
	if r := p.Barred(); r != Allowed {
		return r
	}
	switch {
	case p.Consent.Status != consent.StatusActive:
		return RuleNoConsent
	case !p.Consent.Level.Includes(s.Level):
		return RuleConsentLevelTooLow
	case s.PatientTravel && !p.Consent.PatientTravel:
		return RulePatientTravelConsent
	}
	return settingsRule(s, p.Settings)
}

func settingsRule(s Service, st Settings) Rule {
	switch {
	case s.PatientRecord && st.PatientRecordRemoved:
		return RulePatientRecordRemoved
	case s.SummaryCareRecord && (st.SCRAccessRemoved || st.SCROptedOut):
		return RuleSummaryCareUnavailable
	}
	return Allowed
}

// forChild is whether a parent may use a service for a child of age (< 16).
// A child is represented under parental responsibility: no consent of the
// child's own is needed, but one withdrawn on paper for the child stops all
// use, and the child's blocks and settings apply.
func forChild(s Service, child Person, age int) Rule {
	switch {
	case child.Deceased:
		return RuleDeceased
	case age >= ChildRestrictedAge && !s.Child12To16:
		if s.ChildUnder12 {
			return RuleChildOver12Restricted
		}
		return RuleNotForChildren
	case age < ChildRestrictedAge && !s.ChildUnder12:
		return RuleNotForChildren
	case child.Settings.EmergencyBlock:
		return RuleEmergencyBlock
	case child.Consent.Status == consent.StatusWithdrawn:
		return RuleNoConsent
	}
	return settingsRule(s, child.Settings)
}

// forAttorney is whether an attorney may use a service for the grantor. It
// never gives more than the grantor has: the grantor's own access is
// checked now, so lowering consent after granting takes effect at once.
func forAttorney(s Service, grantor Person, g Grant, now time.Time) Decision {
	switch {
	case grantor.Deceased:
		return verdict(RoleAttorney, RuleDeceased)
	case now.Before(g.ValidFrom):
		return verdict(RoleAttorney, RulePOANotYetValid)
	case !now.Before(g.ValidTo):
		return verdict(RoleAttorney, RulePOAExpired)
	case s.Area == "":
		return verdict(RoleAttorney, RuleNotByPOA)
	case !slices.Contains(g.Areas, s.Area):
		return verdict(RoleAttorney, RulePOAAreaNotGranted)
	}
	if r := own(s, grantor); r != Allowed {
		return Decision{Rule: RuleGrantorLacksAccess, Because: r, Role: RoleAttorney}
	}
	return verdict(RoleAttorney, Allowed)
}

// MayAct reports whether a person may act at all, for themself or others:
// a person registered dead has nobody to choose in the person selector.
func MayAct(actorDeceased bool) bool { return !actorDeceased }
