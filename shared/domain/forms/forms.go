// Package forms handles the paper forms operators key in: block or
// reinstate access, remove or restore patient-record access, withdraw
// consent, for adults and for children. The same rules apply as in the
// portal. A form has an id; submitting it twice has one effect.
package forms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
)

// Kind is the kind of form.
type Kind string

// The form kinds.
const (
	BlockAdult           Kind = "block_adult"
	ReinstateAdult       Kind = "reinstate_adult"
	BlockChild           Kind = "block_child"
	ReinstateChild       Kind = "reinstate_child"
	RecordRemoveAdult    Kind = "patient_record_remove_adult"
	RecordRestoreAdult   Kind = "patient_record_restore_adult"
	RecordRemoveChild    Kind = "patient_record_remove_child"
	RecordRestoreChild   Kind = "patient_record_restore_child"
	WithdrawConsentAdult Kind = "withdraw_consent_adult"
	WithdrawConsentChild Kind = "withdraw_consent_child"
)

var kinds = map[Kind]bool{BlockAdult: false, ReinstateAdult: false, BlockChild: true, ReinstateChild: true,
	RecordRemoveAdult: false, RecordRestoreAdult: false, RecordRemoveChild: true, RecordRestoreChild: true,
	WithdrawConsentAdult: false, WithdrawConsentChild: true}

// ForChild reports whether a kind is a child form (signed by a parent).
func (k Kind) ForChild() bool { return kinds[k] }

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := kinds[k]; return ok }

// Status is where a form is.
type Status string

// The statuses.
const (
	Received Status = "received"
	Applied  Status = "applied"
	Rejected Status = "rejected"
)

// Submission is a form as keyed in by an operator.
type Submission struct {
	FormID       string `json:"formId"`
	Kind         Kind   `json:"kind"`
	Subject      string `json:"subject"`
	Signer       string `json:"signer"`
	ReceivedDate string `json:"receivedDate"`
}

var formIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID reports whether id can be a form id.
func ValidID(id string) bool { return formIDPattern.MatchString(id) }

// Work is what the queue carries: keys and birth dates, never person ids,
// and the operator who keyed the form in.
type Work struct {
	Version      int           `json:"version"`
	FormID       string        `json:"formId"`
	Operator     string        `json:"operator"`
	Kind         Kind          `json:"kind"`
	SubjectKey   personkey.Key `json:"subjectKey"`
	SubjectBirth string        `json:"subjectBirth"`
	SignerKey    personkey.Key `json:"signerKey"`
	SignerBirth  string        `json:"signerBirth"`
	ReceivedDate string        `json:"receivedDate"`
}

// DefaultMaxAgeDays is how old a form's received date may be, by default.
const DefaultMaxAgeDays = 90

// Limits are the checks on a form's received date that vary by deployment.
type Limits struct {
	// MaxAgeDays is how many days before today (Europe/Oslo) the received
	// date may lie; 0 means DefaultMaxAgeDays.
	MaxAgeDays int
}

// Validate checks a submission's fields and turns it into work (without
// its operator: Intake.Submit adds that). The received date must be a real
// date, not before the subject was born, not in the future and at most
// lim.MaxAgeDays old. It never echoes a person id in an error.
func (s Submission) Validate(keys *personkey.Keyer, ids nin.Rules, now time.Time, lim Limits) (Work, error) {
	if !formIDPattern.MatchString(s.FormID) {
		return Work{}, domain.Errorf(domain.EInvalid, "invalid_form_id", "formId must be 1-64 characters of A-Z a-z 0-9 . _ -.")
	}
	if !s.Kind.Valid() {
		return Work{}, domain.Errorf(domain.EInvalid, "unknown_kind", "kind is not a known form kind.")
	}
	subject, err := ids.Parse(s.Subject)
	if err != nil {
		return Work{}, domain.Errorf(domain.EInvalid, "invalid_subject", "subject is not a valid person id.")
	}
	signer, err := ids.Parse(s.Signer)
	if err != nil {
		return Work{}, domain.Errorf(domain.EInvalid, "invalid_signer", "signer is not a valid person id.")
	}
	received, err := time.ParseInLocation("2006-01-02", s.ReceivedDate, clock.Oslo)
	if err != nil {
		return Work{}, domain.Errorf(domain.EInvalid, "invalid_received_date", "receivedDate must be a date (YYYY-MM-DD).")
	}
	today := clock.DateOf(now)
	if received.After(now) {
		return Work{}, domain.Errorf(domain.EInvalid, "received_in_future", "receivedDate cannot be in the future.")
	}
	birth := subject.BirthDate()
	if received.Before(time.Date(birth.Year, birth.Month, birth.Day, 0, 0, 0, 0, clock.Oslo)) {
		return Work{}, domain.Errorf(domain.EInvalid, "received_before_birth", "receivedDate cannot be before the person the form concerns was born.")
	}
	maxAge := lim.MaxAgeDays
	if maxAge <= 0 {
		maxAge = DefaultMaxAgeDays
	}
	if oldest := time.Date(today.Year, today.Month, today.Day-maxAge, 0, 0, 0, 0, clock.Oslo); received.Before(oldest) {
		return Work{}, domain.Errorf(domain.EInvalid, "received_too_old", "receivedDate can be at most %d days ago.", maxAge)
	}
	if !s.Kind.ForChild() && subject != signer {
		return Work{}, domain.Errorf(domain.EInvalid, "signer_not_subject", "An adult form must be signed by the person it concerns.")
	}
	if s.Kind.ForChild() && subject == signer {
		return Work{}, domain.Errorf(domain.EInvalid, "signer_is_child", "A child form must be signed by a parent.")
	}
	return Work{Version: 1, FormID: s.FormID, Kind: s.Kind, SubjectKey: keys.Key(subject), SubjectBirth: subject.BirthDate().String(),
		SignerKey: keys.Key(signer), SignerBirth: signer.BirthDate().String(), ReceivedDate: s.ReceivedDate}, nil
}

// Encode returns the queue message.
func (w Work) Encode() string {
	b, _ := json.Marshal(w)
	return string(b)
}

// ErrBadWork marks a queue message this code cannot read.
var ErrBadWork = errors.New("bad form message")

// DecodeWork reads a queue message.
func DecodeWork(body string) (Work, error) {
	var w Work
	if err := json.Unmarshal([]byte(body), &w); err != nil || w.Version != 1 || !formIDPattern.MatchString(w.FormID) || !w.Kind.Valid() {
		return Work{}, fmt.Errorf("%w: not a version-1 form", ErrBadWork)
	}
	// A form nobody is accountable for is not applied: to the dead-letter
	// queue (resubmitting the form sends it again with its operator).
	if _, err := ParseOperator(w.Operator); err != nil {
		return Work{}, fmt.Errorf("%w: form %s has no operator", ErrBadWork, w.FormID)
	}
	return w, nil
}

// Record is a form's status as operators see it.
type Record struct {
	FormID       string
	Operator     Operator
	Kind         Kind
	Status       Status
	Reason       string
	ReceivedDate string
	SubmittedAt  time.Time
	DecidedAt    time.Time
	Digest       string
}

// Store keeps form records.
type Store interface {
	Form(ctx context.Context, id string) (Record, bool, error)
	Decide(ctx context.Context, id string, status Status, reason string, at time.Time) error
	IsParent(ctx context.Context, parent, child personkey.Key) (bool, error)
}

// Deaths says whether a death is registered for a person.
type Deaths interface {
	Deceased(ctx context.Context, key personkey.Key) (bool, error)
}

// Consents is the consent withdrawal a form can ask for.
type Consents interface {
	Withdraw(ctx context.Context, p consent.Person, w consent.Withdrawal) (consent.Receipt, error)
}

// Processor applies forms.
type Processor struct {
	Store          Store
	Deaths         Deaths
	Settings       *settings.Service
	Consents       Consents
	Now            func() time.Time
	ChildRecordAge int
}

// Apply carries out one form, once: a form already decided is left alone.
// A rule that fails rejects the form with a reason; nothing changes.
func (p *Processor) Apply(ctx context.Context, w Work) (Status, string, error) {
	rec, ok, err := p.Store.Form(ctx, w.FormID)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", fmt.Errorf("form %s has no record", w.FormID)
	}
	if rec.Status != Received {
		return rec.Status, rec.Reason, nil
	}
	status, reason := Applied, ""
	if reason, err = p.apply(ctx, w); err != nil {
		return "", "", err
	}
	if reason != "" {
		status = Rejected
	}
	if err := p.Store.Decide(ctx, w.FormID, status, reason, p.Now().UTC()); err != nil {
		return "", "", err
	}
	return status, reason, nil
}

func (p *Processor) apply(ctx context.Context, w Work) (string, error) {
	now := p.Now()
	subjectBirth, err := time.Parse("2006-01-02", w.SubjectBirth)
	if err != nil {
		return "invalid_subject", nil
	}
	age := clock.Age(nin.Date{Year: subjectBirth.Year(), Month: subjectBirth.Month(), Day: subjectBirth.Day()}, now)
	who := settings.Who{By: settings.BySelf, Channel: settings.Paper, FormID: w.FormID, Operator: w.Operator}
	limit := settings.ChildAge
	if w.Kind == RecordRemoveChild || w.Kind == RecordRestoreChild {
		limit = p.ChildRecordAge
		if limit <= 0 {
			limit = settings.DefaultChildPatientRecordAge
		}
	}
	// "A parent of a child under the limit" here is not
	// access.Records.ParentOfChildUnder, for three reasons:
	//   - a form is rejected with one of two reasons, child_not_under_N or
	//     signer_lacks_parental_responsibility, and that rule answers both
	//     questions with one yes or no;
	//   - the age comes from the subject id on the form (w.SubjectBirth,
	//     validated at intake). ParentOfChildUnder takes it from the
	//     relation item's childBirthDate, which is missing when there is no
	//     relation, and then the age reason could not be given;
	//   - the relation is read by Store.IsParent, one item: the signer's
	//     CHILD# item, of kind parent and not ended. That is the same fact as
	//     Records.Link != nil && !Link.Foster, without the rest of a
	//     decision's records.
	// The limits are the shared ones: settings.ChildAge, and ChildRecordAge
	// for the patient record, as in the portal.
	if w.Kind.ForChild() {
		if age >= limit {
			return fmt.Sprintf("child_not_under_%d", limit), nil
		}
		ok, err := p.Store.IsParent(ctx, w.SignerKey, w.SubjectKey)
		if err != nil {
			return "", err
		}
		if !ok {
			return "signer_lacks_parental_responsibility", nil
		}
		who.By = settings.ByParent
	} else if age < settings.ChildAge {
		return "subject_under_16_use_child_form", nil
	}
	if reason, err := p.alive(ctx, w); reason != "" || err != nil {
		return reason, err
	}
	key := w.SubjectKey
	switch w.Kind {
	case BlockAdult, BlockChild:
		_, err = p.Settings.SetEmergencyBlock(ctx, key, true, who)
	case ReinstateAdult, ReinstateChild:
		_, err = p.Settings.SetEmergencyBlock(ctx, key, false, who)
	case RecordRemoveAdult, RecordRemoveChild:
		_, err = p.Settings.SetPatientRecordAccess(ctx, key, false, who)
	case RecordRestoreAdult, RecordRestoreChild:
		_, err = p.Settings.SetPatientRecordAccess(ctx, key, true, who)
	case WithdrawConsentAdult, WithdrawConsentChild:
		_, err = p.Consents.Withdraw(ctx, consent.Person{Key: key}, consent.Withdrawal{Channel: consent.ChannelPaper, FormID: w.FormID, Operator: w.Operator,
			ConfirmCascade: true, EvenWithoutConsent: w.Kind == WithdrawConsentChild})
		if e, ok := domain.AsError(err); ok && e.Reason == "no_consent" {
			return "no_consent_to_withdraw", nil
		}
	}
	return "", err
}

// alive rejects a form for, or signed by, a person registered dead: from
// the death notice on nothing changes for them or by them.
func (p *Processor) alive(ctx context.Context, w Work) (string, error) {
	for _, c := range []struct {
		key    personkey.Key
		reason string
	}{{w.SubjectKey, "subject_deceased"}, {w.SignerKey, "signer_deceased"}} {
		dead, err := p.Deaths.Deceased(ctx, c.key)
		if err != nil {
			return "", err
		}
		if dead {
			return c.reason, nil
		}
	}
	return "", nil
}
