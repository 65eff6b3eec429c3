package registerfeed_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/registerfeed"
)

const (
	ola  = "01879000099"
	kari = "14838500073"
	barn = "05851250095"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func ids(cur string, prev ...string) []registerfeed.RegisteredID {
	out := []registerfeed.RegisteredID{{Number: cur, Current: true}}
	for _, p := range prev {
		out = append(out, registerfeed.RegisteredID{Number: p})
	}
	return out
}

func TestTranslate(t *testing.T) {
	died := now.Add(-48 * time.Hour)
	type want struct {
		id   string
		typ  notices.Type
		at   time.Time
		need bool
	}
	cases := []struct {
		name    string
		ev      registerfeed.Event
		p       *registerfeed.Person
		want    []want
		wantErr bool
	}{
		{"death", registerfeed.Event{Seq: 7, Type: registerfeed.PersonIsDeceased},
			&registerfeed.Person{IDs: ids(ola), Death: &registerfeed.Death{Valid: true, Date: died}},
			[]want{{"pt-7", notices.Death, died, false}}, false},
		{"death already withdrawn", registerfeed.Event{Seq: 7, Type: registerfeed.PersonIsDeceased},
			&registerfeed.Person{IDs: ids(ola), Death: &registerfeed.Death{Valid: false}}, nil, false},
		{"annulment", registerfeed.Event{Seq: 8, Type: registerfeed.ChangeInDeath},
			&registerfeed.Person{IDs: ids(ola)}, []want{{"pt-8", notices.DeathAnnulled, now, true}}, false},
		{"death date corrected", registerfeed.Event{Seq: 9, Type: registerfeed.ChangeInDeath},
			&registerfeed.Person{IDs: ids(ola), Death: &registerfeed.Death{Valid: true, Date: died}},
			[]want{{"pt-9", notices.Death, died, false}}, false},
		{"responsibility set and an ended one", registerfeed.Event{Seq: 10, Type: registerfeed.ChangeInParentalResponsibility},
			&registerfeed.Person{IDs: ids(barn), Responsibilities: []registerfeed.Responsibility{
				{Parent: kari, Child: barn, Valid: true, From: died},
				{Parent: ola, Child: barn, Valid: false, From: died, To: now.Add(-time.Hour)},
				{Parent: "", Child: barn, Valid: true}, // an organisation: skipped
			}},
			[]want{{"pt-10", notices.ParentalResponsibilitySet, died, false}, {"pt-10-1", notices.ParentalResponsibilityEnds, now.Add(-time.Hour), false}}, false},
		{"id change", registerfeed.Event{Seq: 11, Type: registerfeed.ChangeInNorwegianIdentificationNumber},
			&registerfeed.Person{IDs: ids("14838500154", kari)}, []want{{"pt-11", notices.PersonIDChanged, now, false}}, false},
		{"discontinued without successor", registerfeed.Event{Seq: 12, Type: registerfeed.PersonIsDiscontinued},
			&registerfeed.Person{IDs: ids(ola)}, nil, false},
		{"no person returned", registerfeed.Event{Seq: 13, Type: registerfeed.PersonIsDeceased}, nil, nil, true},
		{"bad sequence number", registerfeed.Event{RawSeq: "x", Type: registerfeed.PersonIsDeceased}, &registerfeed.Person{IDs: ids(ola)}, nil, true},
		{"invalid current id", registerfeed.Event{Seq: 14, Type: registerfeed.PersonIsDeceased},
			&registerfeed.Person{IDs: ids("01879000098"), Death: &registerfeed.Death{Valid: true}}, nil, true},
		{"no current id", registerfeed.Event{Seq: 15, Type: registerfeed.PersonIsDeceased},
			&registerfeed.Person{IDs: []registerfeed.RegisteredID{{Number: ola}}}, nil, true},
		{"parent is the child", registerfeed.Event{Seq: 16, Type: registerfeed.ChangeInFamilyRelation},
			&registerfeed.Person{IDs: ids(barn), Responsibilities: []registerfeed.Responsibility{{Parent: barn, Child: barn, Valid: true}}}, nil, true},
		{"type not asked for", registerfeed.Event{Seq: 17, Type: "ChangeInName"}, &registerfeed.Person{IDs: ids(ola)}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := registerfeed.Translate(tc.ev, tc.p, now)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, registerfeed.ErrMalformed) {
					t.Errorf("err %v does not wrap ErrMalformed", err)
				}
				for _, id := range []string{ola, kari, barn} {
					if strings.Contains(err.Error(), id) {
						t.Errorf("error names a person id: %v", err)
					}
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d intents, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				n := got[i].Notice
				if n.ID != w.id || n.Type != w.typ || !n.EventTime.Equal(w.at) || got[i].NeedsDeathNotice != w.need {
					t.Errorf("intent %d = %s %s %s need=%v; want %s %s %s need=%v", i, n.ID, n.Type, n.EventTime, got[i].NeedsDeathNotice, w.id, w.typ, w.at, w.need)
				}
				if !w.need {
					if _, err := notices.Encode(n); err != nil {
						t.Errorf("intent %d does not encode: %v", i, err)
					}
				}
			}
		})
	}
}

// fakes of the ports

type register struct {
	events  []registerfeed.Event
	persons map[string]registerfeed.Person
	latest  int64
}

func (r *register) Events(_ context.Context, from int64, _ []string) ([]registerfeed.Event, error) {
	var out []registerfeed.Event
	for _, e := range r.events {
		if e.Seq >= from {
			out = append(out, e)
		}
	}
	return out, nil
}
func (r *register) Latest(context.Context) (int64, error) { return r.latest, nil }
func (r *register) Persons(_ context.Context, ids []string, _ []string, _ bool) (map[string]registerfeed.Person, error) {
	out := map[string]registerfeed.Person{}
	for _, id := range ids {
		if p, ok := r.persons[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

type cursors struct {
	c     registerfeed.Cursor
	found bool
}

func (c *cursors) Cursor(context.Context) (registerfeed.Cursor, bool, error) {
	return c.c, c.found, nil
}
func (c *cursors) SetCursor(_ context.Context, next registerfeed.Cursor, prev int64, found bool) error {
	if found != c.found || found && prev != c.c.Seq {
		return errors.New("moved")
	}
	c.c, c.found = next, true
	return nil
}

type directory map[personkey.Key]registerfeed.Known

func (d directory) Lookup(_ context.Context, keys []personkey.Key) (map[personkey.Key]registerfeed.Known, error) {
	out := map[personkey.Key]registerfeed.Known{}
	for _, k := range keys {
		out[k] = d[k]
	}
	return out, nil
}

type outbox struct {
	sent []registerfeed.Message
	dead []registerfeed.DeadLetter
}

func (o *outbox) SendNotices(_ context.Context, m []registerfeed.Message) error {
	o.sent = append(o.sent, m...)
	return nil
}
func (o *outbox) SendDeadLetters(_ context.Context, d []registerfeed.DeadLetter) error {
	o.dead = append(o.dead, d...)
	return nil
}

func TestFeedHoldsAnAnnulmentUntilItsDeathIsRecorded(t *testing.T) {
	keys, err := personkey.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := nin.Parse(ola)
	reg := &register{events: []registerfeed.Event{{Seq: 5, RawSeq: "5", PersonID: "p1", Type: registerfeed.ChangeInDeath}},
		persons: map[string]registerfeed.Person{"p1": {ID: "p1", IDs: ids(ola)}}, latest: 5}
	cur := &cursors{c: registerfeed.Cursor{Seq: 4}, found: true}
	dir := directory{keys.Key(id): {Known: true}} // known, but no death recorded yet
	out := &outbox{}
	clock := now
	f := &registerfeed.Feed{Register: reg, Cursors: cur, Directory: dir, Outbox: out, Keys: keys,
		Now: func() time.Time { return clock }, Log: slog.New(slog.DiscardHandler)}

	rep, err := f.Run(context.Background())
	if err != nil || !rep.Held || cur.c.Seq != 4 || cur.c.HeldSeq != 5 || len(out.sent) != 0 {
		t.Fatalf("first run: rep %+v err %v cursor %+v sent %d; want held at 5, cursor 4, nothing sent", rep, err, cur.c, len(out.sent))
	}
	clock = clock.Add(5 * time.Minute)
	if _, err := f.Run(context.Background()); err != nil || cur.c.HeldSince != now {
		t.Fatalf("second run: err %v, held since %v; want still held since the first", err, cur.c.HeldSince)
	}
	dir[keys.Key(id)] = registerfeed.Known{Known: true, DeathNotice: "pt-3"} // the worker caught up
	if _, err := f.Run(context.Background()); err != nil || cur.c.Seq != 5 || cur.c.HeldSeq != 0 || len(out.sent) != 1 {
		t.Fatalf("third run: err %v cursor %+v sent %d; want cursor 5, one notice", err, cur.c, len(out.sent))
	}
	n, err := notices.Parse(out.sent[0].Body)
	if err != nil || n.Type != notices.DeathAnnulled || n.Annuls != "pt-3" || n.ID != "pt-5" {
		t.Errorf("sent %+v (err %v); want annulment pt-5 of pt-3", n, err)
	}
}

func TestFeedDeadLettersAnAnnulmentHeldTooLong(t *testing.T) {
	keys, _ := personkey.New([]byte("0123456789abcdef0123456789abcdef"))
	id, _ := nin.Parse(ola)
	reg := &register{events: []registerfeed.Event{{Seq: 5, RawSeq: "5", PersonID: "p1", Type: registerfeed.ChangeInDeath}},
		persons: map[string]registerfeed.Person{"p1": {ID: "p1", IDs: ids(ola)}}, latest: 5}
	cur := &cursors{c: registerfeed.Cursor{Seq: 4, HeldSeq: 5, HeldSince: now.Add(-registerfeed.HoldLimit)}, found: true}
	out := &outbox{}
	f := &registerfeed.Feed{Register: reg, Cursors: cur, Directory: directory{keys.Key(id): {Known: true}}, Outbox: out, Keys: keys,
		Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
	if _, err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(out.dead) != 1 || out.dead[0].SequenceNumber != "5" || cur.c.Seq != 5 {
		t.Errorf("dead letters %+v cursor %+v; want seq 5 dead-lettered and passed", out.dead, cur.c)
	}
}

func TestFirstRunStartsAtLatest(t *testing.T) {
	reg := &register{latest: 41}
	cur := &cursors{}
	f := &registerfeed.Feed{Register: reg, Cursors: cur, Directory: directory{}, Outbox: &outbox{}, Start: registerfeed.Start{Latest: true},
		Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	rep, err := f.Run(context.Background())
	if err != nil || cur.c.Seq != 41 || rep.Lag() != 0 {
		t.Errorf("err %v cursor %d lag %d; want cursor 41, lag 0", err, cur.c.Seq, rep.Lag())
	}
}

func TestParseStart(t *testing.T) {
	for in, want := range map[string]registerfeed.Start{"": {Latest: true}, "latest": {Latest: true}, "1": {From: 1}, "900": {From: 900}} {
		if got, err := registerfeed.ParseStart(in); err != nil || got != want {
			t.Errorf("ParseStart(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0", "-1", "x", "first"} {
		if _, err := registerfeed.ParseStart(bad); err == nil {
			t.Errorf("ParseStart(%q) accepted", bad)
		}
	}
}
