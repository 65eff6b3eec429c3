// Package registerfeed follows the population register's event feed (Norsk
// helsenett's Persontjenesten) and turns the events the core cares about
// into the core's own register notices (package notices, the internal
// contract), which the notice worker applies. It knows nothing of HTTP,
// DynamoDB or SQS: the register, the cursor, the core's knowledge of a
// person and the queues are ports.
//
// Translation rules (one event may give several notices, numbered
// "pt-<sequence number>[-<i>]", so a replayed page names the same notices
// and the worker's ledger gives it no second effect):
//
//	PersonIsDeceased                 death, if the register holds a valid death
//	ChangeInDeath                    death annulled, if the death is no longer valid;
//	                                 a valid death (a corrected date) is a death notice,
//	                                 which the worker sees is already recorded
//	ChangeInParentalResponsibility,  one notice per responsibility between two identified
//	ChangeInFamilyRelation           persons in the document: set while valid, ended once
//	                                 not (family relations alone give no access)
//	ChangeInNorwegianIdentificationNumber,
//	PersonIsDiscontinued             person id changed, from each earlier id to the
//	                                 current one; a discontinued person without a
//	                                 successor id gives no notice (consent refuses them)
package registerfeed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/notices"
)

// The event types the feed asks for; every other type is filtered out by
// the register.
const (
	PersonIsDeceased                      = "PersonIsDeceased"
	ChangeInDeath                         = "ChangeInDeath"
	ChangeInFamilyRelation                = "ChangeInFamilyRelation"
	ChangeInParentalResponsibility        = "ChangeInParentalResponsibility"
	ChangeInNorwegianIdentificationNumber = "ChangeInNorwegianIdentificationNumber"
	PersonIsDiscontinued                  = "PersonIsDiscontinued"
)

// EventTypes is what the feed reads.
var EventTypes = []string{PersonIsDeceased, ChangeInDeath, ChangeInFamilyRelation, ChangeInParentalResponsibility,
	ChangeInNorwegianIdentificationNumber, PersonIsDiscontinued}

// The information parts of a person document.
const (
	PartIDs            = "NorwegianIdentificationNumber"
	PartDeath          = "Death"
	PartStatus         = "Status"
	PartResponsibility = "ParentalResponsibility"
	PartContact        = "CommonContactRegisterInformation"
)

// FeedParts is what the feed looks persons up with (with history, so
// earlier ids and ended responsibilities are in the document).
var FeedParts = []string{PartIDs, PartDeath, PartResponsibility}

// Event is one entry of the feed. Seq is 0 when the register's sequence
// number did not parse (RawSeq keeps it for the dead letter).
type Event struct {
	Seq      int64
	RawSeq   string
	PersonID string
	Type     string
}

// RegisteredID is one of a person's national ids.
type RegisteredID struct {
	Number  string
	Current bool
}

// Death is the register's death record.
type Death struct {
	Valid bool
	Date  time.Time
}

// Responsibility is parental responsibility for a child, by ids.
type Responsibility struct {
	Parent, Child string
	Valid         bool
	From, To      time.Time
}

// Person status values the core acts on.
const (
	StatusDeceased     = "Deceased"
	StatusDiscontinued = "Discontinued"
)

// Contact is the contact register's part.
type Contact struct {
	Email, Phone string
}

// Person is the part of a register document the core reads.
type Person struct {
	ID               string
	IDs              []RegisteredID
	Death            *Death
	Status           string
	Responsibilities []Responsibility
	Contact          *Contact
}

// ErrMalformed marks an event that can never be translated: it goes to the
// dead-letter queue with its sequence number, and the feed moves on.
var ErrMalformed = errors.New("malformed register event")

// Intent is a notice the event calls for, before the core's knowledge
// decides whether it is sent.
type Intent struct {
	Seq    int64
	Notice notices.Notice
	// Subjects are the persons any of whom the core must know for the
	// notice to be worth sending.
	Subjects []nin.ID
	// NeedsDeathNotice marks an annulment whose Annuls is still to be found:
	// the id of the death notice recorded for the person.
	NeedsDeathNotice bool
}

// NoticeID names the i-th notice of the event with sequence number seq.
func NoticeID(seq int64, i int) string {
	if i == 0 {
		return "pt-" + strconv.FormatInt(seq, 10)
	}
	return fmt.Sprintf("pt-%d-%d", seq, i)
}

// Translate gives the notices an event calls for. p is the event's person
// as looked up (nil if the register did not return it). now stamps notices
// whose document carries no time of its own.
func Translate(ev Event, p *Person, now time.Time) ([]Intent, error) {
	if ev.Seq <= 0 {
		return nil, fmt.Errorf("%w: sequence number is not a positive integer", ErrMalformed)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: the register returned no person for the event", ErrMalformed)
	}
	current, err := currentID(p)
	if err != nil {
		return nil, err
	}
	one := func(n notices.Notice, subjects ...nin.ID) []Intent {
		n.ID = NoticeID(ev.Seq, 0)
		return []Intent{{Seq: ev.Seq, Notice: n, Subjects: subjects}}
	}
	switch ev.Type {
	case PersonIsDeceased, ChangeInDeath:
		if p.Death != nil && p.Death.Valid {
			at := p.Death.Date
			if at.IsZero() {
				at = now
			}
			return one(notices.Notice{Type: notices.Death, EventTime: at, Person: current}, current), nil
		}
		if ev.Type == PersonIsDeceased {
			return nil, nil // withdrawn again before we read it: the ChangeInDeath that follows says so
		}
		in := one(notices.Notice{Type: notices.DeathAnnulled, EventTime: now, Person: current}, current)
		in[0].NeedsDeathNotice = true
		return in, nil
	case ChangeInParentalResponsibility, ChangeInFamilyRelation:
		return responsibilities(ev, p, now)
	case ChangeInNorwegianIdentificationNumber, PersonIsDiscontinued:
		return idChanges(ev, p, current, now)
	default:
		return nil, fmt.Errorf("%w: event type %q was not asked for", ErrMalformed, truncate(ev.Type))
	}
}

func currentID(p *Person) (nin.ID, error) {
	var cur *nin.ID
	for _, r := range p.IDs {
		if !r.Current {
			continue
		}
		id, err := nin.Parse(r.Number)
		if err != nil {
			return nin.ID{}, fmt.Errorf("%w: the person's current id is not a valid national id", ErrMalformed)
		}
		if cur != nil && *cur != id {
			return nin.ID{}, fmt.Errorf("%w: the person has two current ids", ErrMalformed)
		}
		cur = &id
	}
	if cur == nil {
		return nin.ID{}, fmt.Errorf("%w: the person has no current national id", ErrMalformed)
	}
	return *cur, nil
}

func responsibilities(ev Event, p *Person, now time.Time) ([]Intent, error) {
	var out []Intent
	for _, r := range p.Responsibilities {
		if r.Parent == "" || r.Child == "" {
			continue // an organisation or a person without an id: nothing the core can key
		}
		parent, err1 := nin.Parse(r.Parent)
		child, err2 := nin.Parse(r.Child)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: a parental responsibility names an invalid national id", ErrMalformed)
		}
		if parent == child {
			return nil, fmt.Errorf("%w: a parental responsibility names one person as both parent and child", ErrMalformed)
		}
		n := notices.Notice{Type: notices.ParentalResponsibilitySet, EventTime: r.From, Parent: parent, Child: child}
		if !r.Valid || !r.To.IsZero() && !r.To.After(now) {
			n.Type, n.EventTime = notices.ParentalResponsibilityEnds, r.To
		}
		if n.EventTime.IsZero() {
			n.EventTime = now
		}
		n.ID = NoticeID(ev.Seq, len(out))
		out = append(out, Intent{Seq: ev.Seq, Notice: n, Subjects: []nin.ID{parent, child}})
	}
	return out, nil
}

func idChanges(ev Event, p *Person, current nin.ID, now time.Time) ([]Intent, error) {
	var out []Intent
	for _, r := range p.IDs {
		if r.Current {
			continue
		}
		prev, err := nin.Parse(r.Number)
		if err != nil {
			return nil, fmt.Errorf("%w: an earlier id of the person is not a valid national id", ErrMalformed)
		}
		if prev == current {
			continue
		}
		n := notices.Notice{ID: NoticeID(ev.Seq, len(out)), Type: notices.PersonIDChanged, EventTime: now, Previous: prev, Current: current}
		out = append(out, Intent{Seq: ev.Seq, Notice: n, Subjects: []nin.ID{prev}})
	}
	return out, nil
}

// truncate keeps a register-supplied string short and digit-free in errors.
func truncate(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b := []byte(s)
	for i := range b {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = '#'
		}
	}
	return string(b)
}

// ChildImporter sends, when a parent gives consent, a
// parental_responsibility_set notice for each child the register shows in
// the parent's care (consent.Relations). Notice ids derive from the pair
// and the start, so a repeated consent sends the same notices.
type ChildImporter struct {
	Outbox Outbox
	Now    func() time.Time
}

// ImportChildren implements consent.Relations.
func (c ChildImporter) ImportChildren(ctx context.Context, parent nin.ID, children []consent.Child) error {
	var msgs []Message
	for _, ch := range children {
		at := ch.Since
		if at.IsZero() {
			at = c.Now()
		}
		sum := sha256.Sum256([]byte("parental\x00" + parent.Digits() + "\x00" + ch.ID.Digits() + "\x00" + at.UTC().Format(time.RFC3339)))
		n := notices.Notice{ID: "pr-" + hex.EncodeToString(sum[:16]), Type: notices.ParentalResponsibilitySet, EventTime: at, Parent: parent, Child: ch.ID}
		body, err := notices.Encode(n)
		if err != nil {
			return err
		}
		msgs = append(msgs, Message{ID: n.ID, Body: body})
	}
	return c.Outbox.SendNotices(ctx, msgs)
}
