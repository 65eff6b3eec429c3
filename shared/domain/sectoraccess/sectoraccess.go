// Package sectoraccess holds the settings a person keeps in the portal that
// bind the health sector's systems rather than the portal: health
// personnel's access to the Prescription Intermediary (Reseptformidleren)
// and to the summary care record (Kjernejournal), and the person's choices
// on research and health registries. It also answers the sector's question
// "may health professional H see X for person P?" with the rule that
// decided.
//
// These settings are opt-outs: they survive consent withdrawal, and every
// change is kept in their history (who, when, channel).
package sectoraccess

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"privacycore/shared/domain"
)

// Setting names one setting. The names are also the rule names of the
// sector decisions and the codes of the FHIR Consent resources.
type Setting string

// The health personnel's access settings.
const (
	// RxLimitedPrescriptions: prescriptions health personnel may not see in
	// the Prescription Intermediary.
	RxLimitedPrescriptions Setting = "rx_limited_prescriptions"
	// RxBlockedProfessionals: health professionals who may not see any of
	// the person's prescriptions.
	RxBlockedProfessionals Setting = "rx_blocked_professionals"
	// RxOnlyGP: no health professional but the person's GP may see them.
	RxOnlyGP Setting = "rx_only_gp"
	// SCRLimited: health personnel may open the summary care record only in
	// an emergency (the enforcing system states it).
	SCRLimited Setting = "scr_limited"
	// SCRBlockedProfessionals: health professionals who may not open the
	// summary care record at all.
	SCRBlockedProfessionals Setting = "scr_blocked_professionals"
	// SCRAppointmentHistoryBlocked: no health professional sees the
	// appointment history in the summary care record.
	SCRAppointmentHistoryBlocked Setting = "scr_appointment_history_blocked"
)

// PersonnelSettings lists the health personnel's access settings in the
// order they are shown and exported.
var PersonnelSettings = []Setting{
	RxLimitedPrescriptions, RxBlockedProfessionals, RxOnlyGP,
	SCRLimited, SCRBlockedProfessionals, SCRAppointmentHistoryBlocked,
}

// ResearchSetting is the setting name of a research or registry purpose.
func ResearchSetting(p Purpose) Setting { return Setting("research." + string(p)) }

// Limits that keep one person's settings in one small item.
const (
	MaxProfessionals = 50
	MaxPrescriptions = 100
)

// HPR is a health professional's number in the Health Personnel Register
// (Helsepersonellregisteret).
type HPR string

// hprPattern is our rule for the form of an HPR number: 6 to 9 digits, not
// starting with 0. HPR numbers are issued in sequence (those in use today
// have 6 to 8 digits; the register's field allows 9) and carry no control
// digit that we could check, so the form is all we can validate here.
// An 11-digit person id can never pass.
var hprPattern = regexp.MustCompile(`^[1-9][0-9]{5,8}$`)

// ParseHPR validates an HPR number's form.
func ParseHPR(s string) (HPR, error) {
	if !hprPattern.MatchString(s) {
		return "", domain.Errorf(domain.EInvalid, "invalid_hpr", "A health professional is named by their HPR number: 6 to 9 digits, not starting with 0.")
	}
	return HPR(s), nil
}

// prescriptionPattern is the form of a prescription id in the Prescription
// Intermediary (ReseptId): a UUID.
var prescriptionPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ParsePrescriptionID validates a prescription id's form (a UUID) and
// returns it lower-cased, so one prescription has one spelling.
func ParsePrescriptionID(s string) (string, error) {
	if !prescriptionPattern.MatchString(s) {
		return "", domain.Errorf(domain.EInvalid, "invalid_prescription_id", "A prescription is named by its id in the Prescription Intermediary, a UUID.")
	}
	return strings.ToLower(s), nil
}

// Prescriptions are the Prescription Intermediary settings.
type Prescriptions struct {
	Limited []string // prescription ids, sorted, unique
	Blocked []HPR    // sorted, unique
	OnlyGP  bool
}

// SCR are the summary care record settings for health personnel.
type SCR struct {
	Limited                   bool
	Blocked                   []HPR // sorted, unique
	AppointmentHistoryBlocked bool
}

// State is everything a person has set, with when each setting last changed.
type State struct {
	Prescriptions Prescriptions
	SCR           SCR
	// Research holds the purposes the person has made a choice on: allowed
	// or not. A purpose not in it has its default (Purpose.Default).
	Research map[Purpose]bool
	// Since is when each setting last changed (absent: never).
	Since   map[Setting]time.Time
	Version int64
}

// Active reports whether a setting restricts (or, for a consent purpose,
// permits) anything now.
func (s State) Active(set Setting) bool {
	switch set {
	case RxLimitedPrescriptions:
		return len(s.Prescriptions.Limited) > 0
	case RxBlockedProfessionals:
		return len(s.Prescriptions.Blocked) > 0
	case RxOnlyGP:
		return s.Prescriptions.OnlyGP
	case SCRLimited:
		return s.SCR.Limited
	case SCRBlockedProfessionals:
		return len(s.SCR.Blocked) > 0
	case SCRAppointmentHistoryBlocked:
		return s.SCR.AppointmentHistoryBlocked
	}
	return false
}

// value renders a setting's value for the history: never an HPR number or
// a prescription id (health data), only what kind of change it was.
func (s State) value(set Setting) string {
	switch set {
	case RxLimitedPrescriptions, RxBlockedProfessionals, SCRBlockedProfessionals:
		n := 0
		switch set {
		case RxLimitedPrescriptions:
			n = len(s.Prescriptions.Limited)
		case RxBlockedProfessionals:
			n = len(s.Prescriptions.Blocked)
		default:
			n = len(s.SCR.Blocked)
		}
		return "entries:" + strconv.Itoa(n)
	}
	if s.Active(set) {
		return "on"
	}
	return "off"
}

// normalise validates, sorts and de-duplicates a list of HPR numbers.
func normaliseHPRs(in []string) ([]HPR, error) {
	if len(in) > MaxProfessionals {
		return nil, domain.Errorf(domain.EInvalid, "too_many_entries", "At most %d health professionals can be blocked.", MaxProfessionals)
	}
	out := make([]HPR, 0, len(in))
	for _, s := range in {
		h, err := ParseHPR(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func normalisePrescriptions(in []string) ([]string, error) {
	if len(in) > MaxPrescriptions {
		return nil, domain.Errorf(domain.EInvalid, "too_many_entries", "At most %d prescriptions can be limited.", MaxPrescriptions)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		id, err := ParsePrescriptionID(s)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Channel says how a change came in.
type Channel string

// The channels. Only the portal changes these settings today; paper forms
// for them do not exist in the sources.
const Portal Channel = "portal"

// By says who made a change.
type By string

// Who changes the settings.
const (
	BySelf   By = "self"
	ByParent By = "parent"
)

// Change is one recorded change of one setting.
type Change struct {
	ID      string
	At      time.Time
	Setting Setting
	Value   string
	By      By
	Channel Channel
}
