package settings

import "privacycore/shared/domain"

// The paper forms of the Norwegian page: form 1 for adults, form 2 for
// children (a parent signs). Emergency block and patient-record access each
// have their own pair; the portal answer names the one that applies.
const (
	// ReasonReinstateForm1: lifting one's own emergency block takes form 1.
	ReasonReinstateForm1 = "reinstate_by_form_1"
	// ReasonReinstateForm2: lifting a child's block takes form 2.
	ReasonReinstateForm2 = "reinstate_by_form_2"
	// ReasonRestoreRecordForm1: restoring one's own patient-record access
	// takes the same form 1 that can remove it.
	ReasonRestoreRecordForm1 = "restore_record_by_form_1"
	// ReasonRestoreRecordForm2: restoring a child's takes form 2.
	ReasonRestoreRecordForm2 = "restore_record_by_form_2"
)

// PortalReinstate refuses lifting an emergency block in the portal: the
// block exists because someone may be misusing the person's login, and a
// portal reinstate would let them undo it. child: the block is a child's
// (a parent asks, or the caller is under 16).
func PortalReinstate(child bool) error {
	if child {
		return domain.Errorf(domain.EForbidden, ReasonReinstateForm2,
			"A child's access is reinstated only with paper form 2 (children under 16), signed by a parent.")
	}
	return domain.Errorf(domain.EForbidden, ReasonReinstateForm1,
		"Access is reinstated only with paper form 1 (adults).")
}

// PortalRestoreRecord refuses restoring patient-record access in the
// portal: "Ønsker du å få gjenopprettet tilgangen, må du bruke samme
// skjema". child: the record is a child's, under the patient-record age.
func PortalRestoreRecord(child bool) error {
	if child {
		return domain.Errorf(domain.EForbidden, ReasonRestoreRecordForm2,
			"A child's patient-record access is restored only with paper form 2, signed by a parent.")
	}
	return domain.Errorf(domain.EForbidden, ReasonRestoreRecordForm1,
		"Patient-record access is restored only with paper form 1.")
}
