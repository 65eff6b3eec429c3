// Package fhirconsent renders a person's sector settings and research and
// registry choices as FHIR R4 Consent resources, one per setting, in a
// searchset Bundle: the form health systems exchange such choices in.
//
// The patient is named by a pseudonym (not the person id, and not the
// table key): the same person always gets the same one.
package fhirconsent

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/sectoraccess"
)

// Code systems and identifiers.
const (
	SystemScope        = "http://terminology.hl7.org/CodeSystem/consentscope"
	SystemLOINC        = "http://loinc.org"
	SystemActCode      = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	SystemParticipant  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	SystemRoleCode     = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	SystemActReason    = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	SystemResourceType = "http://hl7.org/fhir/resource-types"
	// SystemSetting and SystemData are ours: which setting a Consent is,
	// and which part of the summary care record a provision is about.
	SystemSetting = "https://privacy.helsenorge.example/fhir/CodeSystem/setting"
	SystemData    = "https://privacy.helsenorge.example/fhir/CodeSystem/data"
	// SystemHPR is the Health Personnel Register's identifier system (OID).
	SystemHPR = "urn:oid:2.16.578.1.12.4.1.4.4"
)

// Bundle is a FHIR R4 Bundle of type searchset.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Total        int     `json:"total"`
	Entry        []Entry `json:"entry,omitempty"`
}

// Entry is one Bundle entry.
type Entry struct {
	Resource Consent `json:"resource"`
}

// Consent is the subset of FHIR R4 Consent used here.
type Consent struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Status       string            `json:"status"`
	Scope        CodeableConcept   `json:"scope"`
	Category     []CodeableConcept `json:"category"`
	Patient      Reference         `json:"patient"`
	DateTime     string            `json:"dateTime,omitempty"`
	PolicyRule   CodeableConcept   `json:"policyRule"`
	Provision    Provision         `json:"provision"`
}

// Provision is a Consent.provision (nested provisions are exceptions).
type Provision struct {
	Type      string            `json:"type"`
	Period    *Period           `json:"period,omitempty"`
	Actor     []Actor           `json:"actor,omitempty"`
	Purpose   []Coding          `json:"purpose,omitempty"`
	Class     []Coding          `json:"class,omitempty"`
	Code      []CodeableConcept `json:"code,omitempty"`
	Data      []Data            `json:"data,omitempty"`
	Provision []Provision       `json:"provision,omitempty"`
}

// Actor is a provision's actor.
type Actor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

// Data is a provision's data.
type Data struct {
	Meaning   string    `json:"meaning"`
	Reference Reference `json:"reference"`
}

// Period is a FHIR Period.
type Period struct {
	Start string `json:"start,omitempty"`
}

// Reference is a FHIR Reference.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Pseudonym returns the patient's pseudonymous FHIR id: a hash of the
// person key under its own label, 32 hex characters.
func Pseudonym(key personkey.Key) string {
	sum := sha256.Sum256([]byte("fhir-patient\x00" + string(key)))
	return hex.EncodeToString(sum[:16])
}

// Render returns one Consent per setting: the six health personnel's
// access settings and every research and registry purpose.
func Render(key personkey.Key, st sectoraccess.State) Bundle {
	pseudo := Pseudonym(key)
	b := Bundle{ResourceType: "Bundle", Type: "searchset"}
	for _, set := range sectoraccess.PersonnelSettings {
		c := base(pseudo, set, st, "patient-privacy")
		c.Status = status(st.Active(set))
		c.PolicyRule = concept(SystemActCode, "OPTOUT")
		c.Provision = personnel(set, st)
		c.Provision.Period = period(st.Since[set])
		b.Entry = append(b.Entry, Entry{Resource: c})
	}
	for _, p := range sectoraccess.Purposes {
		set := sectoraccess.ResearchSetting(p.ID)
		c := base(pseudo, set, st, p.Scope)
		_, chosen := st.Research[p.ID]
		c.Status = status(chosen)
		c.PolicyRule = concept(SystemActCode, map[sectoraccess.Kind]string{sectoraccess.KindConsent: "OPTIN", sectoraccess.KindReservation: "OPTOUT"}[p.Kind])
		c.Provision = Provision{Type: permitIf(st.Allowed(p)), Period: period(st.Since[set]),
			Code: []CodeableConcept{concept(SystemData, string(p.ID))}}
		b.Entry = append(b.Entry, Entry{Resource: c})
	}
	b.Total = len(b.Entry)
	return b
}

func base(pseudo string, set sectoraccess.Setting, st sectoraccess.State, scope string) Consent {
	c := Consent{
		ResourceType: "Consent",
		ID:           pseudo[:16] + "-" + strings.NewReplacer("_", "-", ".", "-").Replace(string(set)),
		Scope:        concept(SystemScope, scope),
		Category:     []CodeableConcept{{Coding: []Coding{{System: SystemLOINC, Code: "59284-0", Display: "Patient Consent"}}}, concept(SystemSetting, string(set))},
		Patient:      Reference{Reference: "Patient/" + pseudo},
	}
	if t, ok := st.Since[set]; ok {
		c.DateTime = t.UTC().Format(time.RFC3339)
	}
	return c
}

func personnel(set sectoraccess.Setting, st sectoraccess.State) Provision {
	rx := []Coding{{System: SystemResourceType, Code: "MedicationRequest"}}
	scr := []CodeableConcept{concept(SystemData, string(sectoraccess.SummaryCareRecord))}
	p := Provision{Type: "deny"}
	switch set {
	case sectoraccess.RxLimitedPrescriptions:
		p.Class = rx
		for _, id := range st.Prescriptions.Limited {
			p.Data = append(p.Data, Data{Meaning: "instance", Reference: Reference{Reference: "MedicationRequest/" + id}})
		}
	case sectoraccess.RxBlockedProfessionals:
		p.Class, p.Actor = rx, actors(st.Prescriptions.Blocked)
	case sectoraccess.RxOnlyGP:
		p.Class = rx
		p.Provision = []Provision{{Type: "permit", Actor: []Actor{{
			Role:      concept(SystemRoleCode, "PCP"),
			Reference: Reference{Display: "The person's GP (fastlege), as the GP register names them"},
		}}}}
	case sectoraccess.SCRLimited:
		p.Code = scr
		p.Provision = []Provision{{Type: "permit", Purpose: []Coding{{System: SystemActReason, Code: "ETREAT", Display: "Emergency treatment"}}}}
	case sectoraccess.SCRBlockedProfessionals:
		p.Code, p.Actor = scr, actors(st.SCR.Blocked)
	case sectoraccess.SCRAppointmentHistoryBlocked:
		p.Code = []CodeableConcept{concept(SystemData, string(sectoraccess.AppointmentHistory))}
	}
	return p
}

func actors(hprs []sectoraccess.HPR) []Actor {
	var out []Actor
	for _, h := range hprs {
		out = append(out, Actor{
			Role:      concept(SystemParticipant, "PRCP"),
			Reference: Reference{Identifier: &Identifier{System: SystemHPR, Value: string(h)}},
		})
	}
	return out
}

func concept(system, code string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: system, Code: code}}}
}

func period(t time.Time) *Period {
	if t.IsZero() {
		return nil
	}
	return &Period{Start: t.UTC().Format(time.RFC3339)}
}

func status(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}

func permitIf(b bool) string {
	if b {
		return "permit"
	}
	return "deny"
}
