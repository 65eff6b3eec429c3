package registerfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// Register is the population register: the event feed and bulk look-ups.
type Register interface {
	// Events returns up to a page of events of the given types with
	// sequence numbers from from on, in order.
	Events(ctx context.Context, from int64, types []string) ([]Event, error)
	// Latest is the newest sequence number of all (0: no events yet).
	Latest(ctx context.Context) (int64, error)
	// Persons looks persons up by register id (missing ones are absent).
	Persons(ctx context.Context, ids []string, parts []string, history bool) (map[string]Person, error)
}

// Cursor is where the feed stands. Seq is the last sequence number done.
// An annulment that waits for its death notice holds the feed at HeldSeq
// since HeldSince.
type Cursor struct {
	Seq       int64
	HeldSeq   int64
	HeldSince time.Time
}

// Cursors stores the cursor.
type Cursors interface {
	// Cursor returns the stored cursor; found is false before the first run.
	Cursor(ctx context.Context) (c Cursor, found bool, err error)
	// SetCursor stores next if the stored cursor is still at prev (or
	// absent, when found was false), so two runs never both move it.
	SetCursor(ctx context.Context, next Cursor, prev int64, found bool) error
}

// Known is what the core holds about a person.
type Known struct {
	Known bool
	// DeathNotice is the id of the death notice recorded for the person, if any.
	DeathNotice string
}

// Directory answers what the core knows about persons, by reads only.
type Directory interface {
	Lookup(ctx context.Context, keys []personkey.Key) (map[personkey.Key]Known, error)
}

// Message is one notice for the notices queue.
type Message struct {
	ID   string
	Body []byte
}

// DeadLetter is an event that could not be translated. It carries no
// person id: the sequence number finds the event in the register.
type DeadLetter struct {
	SequenceNumber string `json:"sequenceNumber"`
	EventType      string `json:"eventType"`
	Reason         string `json:"reason"`
}

// Outbox sends to the notices queue and to the feed's dead-letter queue.
type Outbox interface {
	SendNotices(ctx context.Context, msgs []Message) error
	SendDeadLetters(ctx context.Context, dls []DeadLetter) error
}

// Defaults.
const (
	// DefaultBudget is how long a run may start new pages for; the
	// function's timeout leaves room beyond it for the last page.
	DefaultBudget = 40 * time.Second
	// HoldLimit is how long an annulment may wait for its death notice to
	// be recorded before it is dead-lettered for an operator.
	HoldLimit = 15 * time.Minute
	// FullPage is the register's page size: a shorter page means caught up.
	FullPage = 1000
	bulkMax  = 100
)

// Start says where a feed without a cursor begins.
type Start struct {
	Latest bool  // at the register's newest event: the past is not replayed
	From   int64 // else at this sequence number
}

// ParseStart reads "latest" or a sequence number ≥ 1.
func ParseStart(s string) (Start, error) {
	if s == "" || s == "latest" {
		return Start{Latest: true}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return Start{}, fmt.Errorf("feed start %q: want latest or a sequence number >= 1", s)
	}
	return Start{From: n}, nil
}

// Feed reads the register's feed into the notices queue.
type Feed struct {
	Register  Register
	Cursors   Cursors
	Directory Directory
	Outbox    Outbox
	Keys      *personkey.Keyer
	Start     Start
	Budget    time.Duration
	Now       func() time.Time // business time: notice times, holds
	Log       *slog.Logger
}

// Report is what one run did.
type Report struct {
	Pages, Events  int
	Sent           int // notices sent
	Unknown        int // notices not sent: no person in them is known to the core
	DeadLettered   int
	Cursor, Latest int64
	Held           bool // an annulment waits for its death notice
}

// Lag is how far the feed is behind the register.
func (r Report) Lag() int64 { return max(0, r.Latest-r.Cursor) }

// Run reads pages until the feed is caught up, the budget is spent, or an
// annulment must wait. The cursor moves only after a page's notices and
// dead letters are sent, so a crash re-reads the page: the notice ids make
// that harmless.
func (f *Feed) Run(ctx context.Context) (Report, error) {
	budget := f.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	deadline := time.Now().Add(budget) // wall time: the budget is the Lambda's
	var rep Report
	cur, found, err := f.Cursors.Cursor(ctx)
	if err != nil {
		return rep, fmt.Errorf("read feed cursor: %w", err)
	}
	if !found {
		if cur, err = f.first(ctx); err != nil {
			return rep, err
		}
		found = true
	}
	for time.Now().Before(deadline) {
		evs, err := f.Register.Events(ctx, cur.Seq+1, EventTypes)
		if err != nil {
			rep.Cursor = cur.Seq
			return rep, fmt.Errorf("read register events after %d: %w", cur.Seq, err)
		}
		if len(evs) == 0 {
			break
		}
		next, err := f.page(ctx, cur, evs, &rep)
		if err != nil {
			rep.Cursor = cur.Seq
			return rep, err
		}
		if err := f.Cursors.SetCursor(ctx, next, cur.Seq, found); err != nil {
			rep.Cursor = cur.Seq
			return rep, fmt.Errorf("advance feed cursor to %d: %w", next.Seq, err)
		}
		found, cur = true, next
		rep.Pages++
		if rep.Held || len(evs) < FullPage {
			break
		}
	}
	rep.Cursor = cur.Seq
	latest, err := f.Register.Latest(ctx)
	if err != nil {
		return rep, fmt.Errorf("read the register's latest event: %w", err)
	}
	rep.Latest = max(latest, cur.Seq)
	return rep, nil
}

// first places a new cursor where Start says, and stores it.
func (f *Feed) first(ctx context.Context) (Cursor, error) {
	c := Cursor{Seq: f.Start.From - 1}
	if f.Start.Latest {
		latest, err := f.Register.Latest(ctx)
		if err != nil {
			return c, fmt.Errorf("read the register's latest event: %w", err)
		}
		c.Seq = latest
	}
	if err := f.Cursors.SetCursor(ctx, c, 0, false); err != nil {
		return c, fmt.Errorf("store the first feed cursor: %w", err)
	}
	return c, nil
}

// page translates and sends one page; it returns the cursor to store.
func (f *Feed) page(ctx context.Context, cur Cursor, evs []Event, rep *Report) (Cursor, error) {
	now := f.Now().UTC()
	persons, err := f.lookup(ctx, evs)
	if err != nil {
		return cur, err
	}
	type translated struct {
		ev      Event
		intents []Intent
		dead    *DeadLetter
	}
	tr := make([]translated, 0, len(evs))
	var keys []personkey.Key
	for _, ev := range evs {
		var p *Person
		if pp, ok := persons[ev.PersonID]; ok {
			p = &pp
		}
		in, err := Translate(ev, p, now)
		if err != nil {
			tr = append(tr, translated{ev: ev, dead: &DeadLetter{SequenceNumber: ev.RawSeq, EventType: truncate(ev.Type), Reason: err.Error()}})
			continue
		}
		for _, i := range in {
			for _, s := range i.Subjects {
				keys = append(keys, f.Keys.Key(s))
			}
		}
		tr = append(tr, translated{ev: ev, intents: in})
	}
	known, err := f.Directory.Lookup(ctx, keys)
	if err != nil {
		return cur, fmt.Errorf("look up persons in the core: %w", err)
	}
	deathsSent := map[nin.ID]string{} // in this page: deaths not yet recorded
	// Register persons whose death event in this page was already withdrawn
	// when we read it: their annulment has nothing to annul.
	voided := map[string]bool{}
	var msgs []Message
	var dls []DeadLetter
	next := Cursor{Seq: cur.Seq}
	for _, t := range tr {
		rep.Events++
		if t.dead != nil {
			dls = append(dls, *t.dead)
			if t.ev.Seq > next.Seq {
				next.Seq = t.ev.Seq
			}
			continue
		}
		if t.ev.Type == PersonIsDeceased && len(t.intents) == 0 {
			voided[t.ev.PersonID] = true
		}
		hold := false
		for _, in := range t.intents {
			isKnown := false
			for _, s := range in.Subjects {
				isKnown = isKnown || known[f.Keys.Key(s)].Known
			}
			if !isKnown {
				rep.Unknown++
				continue
			}
			n := in.Notice
			if in.NeedsDeathNotice {
				n.Annuls = deathsSent[n.Person]
				if n.Annuls == "" {
					n.Annuls = known[f.Keys.Key(n.Person)].DeathNotice
				}
				if n.Annuls == "" && voided[t.ev.PersonID] {
					continue // the death was never sent
				}
				if n.Annuls == "" {
					if cur.HeldSeq == t.ev.Seq && now.Sub(cur.HeldSince) >= HoldLimit {
						dls = append(dls, DeadLetter{SequenceNumber: t.ev.RawSeq, EventType: t.ev.Type,
							Reason: "annulment of a death the core has not recorded, after waiting " + HoldLimit.String()})
						continue
					}
					hold = true
					break
				}
			}
			body, err := notices.Encode(n)
			if err != nil {
				dls = append(dls, DeadLetter{SequenceNumber: t.ev.RawSeq, EventType: t.ev.Type, Reason: err.Error()})
				continue
			}
			if n.Type == notices.Death {
				deathsSent[n.Person] = n.ID
			}
			msgs = append(msgs, Message{ID: n.ID, Body: body})
		}
		if hold {
			// Wait for the death notice sent earlier to be recorded; the
			// events before this one are done.
			rep.Held = true
			next.HeldSeq, next.HeldSince = t.ev.Seq, now
			if cur.HeldSeq == t.ev.Seq {
				next.HeldSince = cur.HeldSince
			}
			f.Log.WarnContext(ctx, "annulment waits for its death notice to be recorded", "sequenceNumber", t.ev.Seq)
			break
		}
		if t.ev.Seq > next.Seq {
			next.Seq = t.ev.Seq
		}
	}
	if err := f.Outbox.SendNotices(ctx, msgs); err != nil {
		return cur, fmt.Errorf("send notices: %w", err)
	}
	if len(dls) > 0 {
		if err := f.Outbox.SendDeadLetters(ctx, dls); err != nil {
			return cur, fmt.Errorf("send dead letters: %w", err)
		}
		for _, d := range dls {
			f.Log.ErrorContext(ctx, "register event dead-lettered", "sequenceNumber", d.SequenceNumber, "eventType", d.EventType, "reason", d.Reason)
		}
	}
	rep.Sent += len(msgs)
	rep.DeadLettered += len(dls)
	return next, nil
}

// lookup fetches the persons of a page's events, 100 per request.
func (f *Feed) lookup(ctx context.Context, evs []Event) (map[string]Person, error) {
	seen := map[string]bool{}
	var ids []string
	for _, ev := range evs {
		// An id the API would refuse (and so fail the whole look-up) is left
		// out: its event is then malformed and dead-lettered alone.
		if registerID.MatchString(ev.PersonID) && !seen[ev.PersonID] {
			seen[ev.PersonID] = true
			ids = append(ids, ev.PersonID)
		}
	}
	out := make(map[string]Person, len(ids))
	for len(ids) > 0 {
		n := min(bulkMax, len(ids))
		got, err := f.Register.Persons(ctx, ids[:n], FeedParts, true)
		if err != nil {
			return nil, fmt.Errorf("look up %d persons in the register: %w", n, err)
		}
		for k, v := range got {
			out[k] = v
		}
		ids = ids[n:]
	}
	return out, nil
}

// registerID is what a Persontjenesten person id may look like (the API
// allows 1-64 characters; its ids are hex digests).
var registerID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// IsThrottled reports whether err is the register asking us to slow down
// beyond the run's budget; the next run continues from the cursor.
func IsThrottled(err error) bool { return errors.Is(err, ErrThrottled) }

// ErrThrottled is returned by a Register that was told to wait longer than
// the run can.
var ErrThrottled = errors.New("register throttled the feed beyond the run's budget")
