package access

import (
	"time"

	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
)

// Records are the stored facts about one represented person, and the
// actor's link to them: what a decision reads, in one round trip.
type Records struct {
	Subject    Person // Birth is set only when a child link gives it
	Link       *Link
	Grant      *Grant
	ChildBirth nin.Date
	// ActorDeceased: the actor's own death marker (the subject's, when the
	// actor is the subject).
	ActorDeceased bool
}

// Usage is one usage-log entry: when, which service (or a login), and in
// which role the actor acted. It holds no details of the use.
type Usage struct {
	ID      string
	At      time.Time
	Kind    string // "use", "login", "parent_access_restricted", "parent_access_ended"
	Service string
	By      Role
}

// ParentOfChildUnder reports whether the records show the actor has
// parental responsibility (not foster care, not ended) for a subject who is
// under age at now. It is the one rule for "the caller acts for their
// child", in settings and in the person selector alike.
func (r Records) ParentOfChildUnder(age int, now time.Time) bool {
	return r.Link != nil && !r.Link.Foster && clock.Age(r.ChildBirth, now) < age
}
