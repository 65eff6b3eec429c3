package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// DefaultRetention is how long usage-log entries are kept.
const DefaultRetention = 3 * 365 * 24 * time.Hour

// RecordsReader reads what a decision needs about a subject, and the
// actor's link to them, in one round trip.
type RecordsReader interface {
	AccessRecords(ctx context.Context, actor, subject personkey.Key) (Records, error)
}

// UsageLog keeps a person's usage log.
type UsageLog interface {
	// AppendUsage adds an entry that expires after retention.
	AppendUsage(ctx context.Context, key personkey.Key, u Usage, retention time.Duration) error
	// UsageLog returns up to limit entries, newest first, and the next
	// cursor; a cursor that is not the log's is domain.ErrInvalidCursor.
	UsageLog(ctx context.Context, key personkey.Key, limit int, cursor string) ([]Usage, string, error)
}

// Decider answers "may the actor use this service for the subject?" and
// keeps the usage log.
type Decider struct {
	Records   RecordsReader
	Usage     UsageLog
	Keys      *personkey.Keyer
	IDs       nin.Rules // which person ids the stack accepts in a question
	Now       func() time.Time
	NewID     func() string
	Retention time.Duration // 0: DefaultRetention
	// Decided, if set, is told of every decision (for metrics).
	Decided func(ctx context.Context, d Decision)
}

// Question is one access question. The subject is given by id (whose birth
// date the id holds), by the person selector's reference, or neither: the
// caller themself.
type Question struct {
	Caller     nin.ID
	Service    string
	SubjectID  string
	SubjectRef string
	// RecordUse appends the use to the subject's usage log when allowed.
	RecordUse bool
}

// Decide answers q from one read of the subject's records.
func (s *Decider) Decide(ctx context.Context, q Question) (Decision, Service, error) {
	svc, ok := Lookup(q.Service)
	if !ok {
		return Decision{}, Service{}, domain.Errorf(domain.EInvalid, "unknown_service", "The service is not in the catalogue.")
	}
	actor := s.Keys.Key(q.Caller)
	subject, birth, err := s.subject(q)
	if err != nil {
		return Decision{}, Service{}, err
	}
	recs, err := s.Records.AccessRecords(ctx, actor, subject)
	if err != nil {
		return Decision{}, Service{}, err
	}
	facts := Facts{Service: svc, Self: actor == subject, Subject: recs.Subject, Link: recs.Link, Grant: recs.Grant, ActorDeceased: recs.ActorDeceased, Now: s.Now()}
	if birth != (nin.Date{}) {
		facts.Subject.Birth = birth
	}
	d := Decide(facts)
	if s.Decided != nil {
		s.Decided(ctx, d)
	}
	if d.Allowed && q.RecordUse {
		u := Usage{ID: s.NewID(), At: facts.Now, Kind: "use", Service: svc.ID, By: d.Role}
		if err := s.Usage.AppendUsage(ctx, subject, u, s.retention()); err != nil {
			return Decision{}, Service{}, err
		}
	}
	return d, svc, nil
}

// subject resolves the represented person of a question and, when the id
// gives it, their birth date.
func (s *Decider) subject(q Question) (personkey.Key, nin.Date, error) {
	switch {
	case q.SubjectID != "" && q.SubjectRef != "":
		return "", nin.Date{}, domain.Errorf(domain.EInvalid, "ambiguous_subject", "Give subject or subjectRef, not both.")
	case q.SubjectID != "":
		p, err := s.IDs.Parse(q.SubjectID)
		if err != nil {
			return "", nin.Date{}, domain.Errorf(domain.EInvalid, "invalid_subject", "subject is not a valid person id.")
		}
		return s.Keys.Key(p), p.BirthDate(), nil
	case q.SubjectRef != "":
		k, ok := personkey.ParseRef(q.SubjectRef)
		if !ok {
			return "", nin.Date{}, domain.Errorf(domain.EInvalid, "invalid_subject", "subjectRef is not a valid reference.")
		}
		return k, nin.Date{}, nil
	}
	return s.Keys.Key(q.Caller), q.Caller.BirthDate(), nil
}

// Log returns a page of the caller's usage log, newest first.
func (s *Decider) Log(ctx context.Context, caller nin.ID, limit int, cursor string) ([]Usage, string, error) {
	return s.LogOf(ctx, caller, "", limit, cursor)
}

// LogOf returns a page of the usage log of the child the person selector's
// reference childRef names, newest first, or the caller's own when childRef
// is empty. Only a parent (not a foster parent, not an attorney) of a child
// within the catalogue band of usage_log (under 12) may read a child's log;
// anyone else is refused with not_your_child, and a caller registered dead
// with deceased.
func (s *Decider) LogOf(ctx context.Context, caller nin.ID, childRef string, limit int, cursor string) ([]Usage, string, error) {
	key := s.Keys.Key(caller)
	if childRef != "" {
		child, ok := personkey.ParseRef(childRef)
		if !ok {
			return nil, "", domain.Errorf(domain.EInvalid, "invalid_child", "childRef is not a valid reference.")
		}
		recs, err := s.Records.AccessRecords(ctx, key, child)
		if err != nil {
			return nil, "", fmt.Errorf("read access records: %w", err)
		}
		if !MayAct(recs.ActorDeceased) {
			return nil, "", domain.Errorf(domain.EForbidden, "deceased", "The population register reports you as deceased.")
		}
		if svc, _ := Lookup("usage_log"); !recs.ParentOfChildUnder(svc.ParentAgeLimit(), s.Now()) {
			return nil, "", domain.Errorf(domain.EForbidden, "not_your_child", "You can read the usage log only of your own children under the age limit.")
		}
		key = child
	}
	entries, next, err := s.Usage.UsageLog(ctx, key, limit, cursor)
	if errors.Is(err, domain.ErrInvalidCursor) {
		return nil, "", domain.InvalidCursor()
	}
	if err != nil {
		return nil, "", fmt.Errorf("read usage log: %w", err)
	}
	return entries, next, nil
}

// Login records in the caller's usage log that they logged in.
func (s *Decider) Login(ctx context.Context, caller nin.ID) error {
	u := Usage{ID: s.NewID(), At: s.Now(), Kind: "login", By: RoleSelf}
	return s.Usage.AppendUsage(ctx, s.Keys.Key(caller), u, s.retention())
}

func (s *Decider) retention() time.Duration {
	if s.Retention <= 0 {
		return DefaultRetention
	}
	return s.Retention
}
