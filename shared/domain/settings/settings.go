// Package settings holds the privacy settings a person (or a parent for a
// child, or an operator from a paper form) can change: the emergency block,
// digital access to the patient record, and the summary care record (access,
// opt-out, and restore within 30 days). Every change is recorded as an
// opt-out record, which survives consent withdrawal.
package settings

import (
	"time"

	"privacycore/shared/domain"
)

// Setting names a privacy setting.
type Setting string

// The settings.
const (
	EmergencyBlock      Setting = "emergency_block"
	PatientRecordAccess Setting = "patient_record_access"
	SCRAccess           Setting = "scr_access"
	SCROptOut           Setting = "scr_opt_out"
)

// SCRRestoreWindow is how long after opting out of the summary care record
// the person can restore it with its contents.
const SCRRestoreWindow = 30 * 24 * time.Hour

// DefaultChildPatientRecordAge is the default age under which a parent (or
// a child form) may change a child's patient-record access. The English page
// says 12, the Norwegian 16; configurable (CHILD_PATIENT_RECORD_AGE).
const DefaultChildPatientRecordAge = 16

// ChildAge is the age under which parents act for a child's block and consent.
const ChildAge = 16

// State is a person's current settings.
type State struct {
	EmergencyBlock       bool
	PatientRecordRemoved bool
	SCRAccessRemoved     bool
	SCROptedOut          bool
	SCROptedOutAt        time.Time
	// SCRGeneration numbers the person's summary care record: a restore after
	// the window starts generation+1, empty; the old one is purged by a job.
	SCRGeneration int
	SCRPurgeJob   string
	Version       int64
}

// Channel says how a change came in.
type Channel string

// The channels.
const (
	Portal Channel = "portal"
	Paper  Channel = "paper_form"
)

// By says who made a change.
type By string

// Who changes settings.
const (
	BySelf     By = "self"
	ByParent   By = "parent"
	ByOperator By = "operator"
)

// Change is one recorded change.
type Change struct {
	ID      string
	At      time.Time
	Setting Setting
	Value   string
	By      By
	Channel Channel
	FormID  string
	// Operator keyed in the paper form; for operators' eyes, not the citizen's.
	Operator string
}

// RestorableUntil is when an SCR opt-out stops being restorable.
func (s State) RestorableUntil() time.Time {
	if !s.SCROptedOut {
		return time.Time{}
	}
	return s.SCROptedOutAt.Add(SCRRestoreWindow)
}

// ErrNotChild is returned when a parent acts for someone who is not their
// child under the age limit.
func ErrNotChild() error {
	return domain.Errorf(domain.EForbidden, "not_your_child", "You can change settings only for your own children under the age limit.")
}

// CheckAlive refuses a change by or for a person registered dead: from the
// death notice on, nobody changes their settings and they change nobody's.
func CheckAlive(actorDeceased, subjectDeceased bool) error {
	switch {
	case actorDeceased:
		return domain.Errorf(domain.EForbidden, "deceased", "The population register reports you as deceased.")
	case subjectDeceased:
		return domain.Errorf(domain.EForbidden, "person_deceased", "The population register reports this person as deceased.")
	}
	return nil
}
