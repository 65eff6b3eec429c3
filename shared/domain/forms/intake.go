package forms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Records keeps form records for the operators' routes.
type Records interface {
	// CreateForm stores a new form as received; created is false if a form
	// with this id exists, whose record it returns.
	CreateForm(ctx context.Context, r Record) (rec Record, created bool, err error)
	Form(ctx context.Context, id string) (Record, bool, error)
}

// Queue sends work to the forms worker.
type Queue interface {
	Send(ctx context.Context, body string) error
}

// Intake takes paper forms in: validate, record as received, enqueue.
type Intake struct {
	Records Records
	Queue   Queue
	Keys    *personkey.Keyer
	IDs     nin.Rules // which person ids the stack accepts in a form
	Now     func() time.Time
	// Limits bound a form's received date (FORM_MAX_AGE_DAYS).
	Limits Limits
}

// Submit validates, records and enqueues a form keyed in by op. The same
// form again is answered with its current record and has no second effect,
// also when another operator keys it in (the record keeps the first
// operator); a different form under a used id is a conflict. A form still
// "received" is enqueued again, so a crash between storing and sending
// heals on resubmission.
func (in *Intake) Submit(ctx context.Context, op Operator, s Submission) (rec Record, created bool, err error) {
	if _, err := ParseOperator(string(op)); err != nil {
		return Record{}, false, err
	}
	now := in.Now().UTC()
	work, err := s.Validate(in.Keys, in.IDs, now, in.Limits)
	if err != nil {
		return Record{}, false, err
	}
	// The digest is of the form, not of who keyed it in.
	sum := sha256.Sum256([]byte(work.Encode()))
	digest := hex.EncodeToString(sum[:])
	work.Operator = string(op)
	body := work.Encode()
	rec, created, err = in.Records.CreateForm(ctx, Record{FormID: s.FormID, Operator: op, Kind: s.Kind, ReceivedDate: s.ReceivedDate, SubmittedAt: now, Digest: digest})
	if err != nil {
		return Record{}, false, err
	}
	if !created && rec.Digest != digest {
		return Record{}, false, domain.Errorf(domain.EConflict, "form_id_conflict", "A different form with this id was submitted before.")
	}
	if rec.Status == Received {
		if err := in.Queue.Send(ctx, body); err != nil {
			return Record{}, false, err
		}
	}
	return rec, created, nil
}

// Status returns a form's record.
func (in *Intake) Status(ctx context.Context, id string) (Record, error) {
	if !ValidID(id) {
		return Record{}, errFormNotFound()
	}
	rec, ok, err := in.Records.Form(ctx, id)
	if err != nil {
		return Record{}, err
	}
	if !ok {
		return Record{}, errFormNotFound()
	}
	return rec, nil
}

func errFormNotFound() error {
	return domain.Errorf(domain.ENotFound, "form_not_found", "No form with this id.")
}
