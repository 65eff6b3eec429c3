package agejob_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"privacycore/shared/domain/agejob"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

type note struct {
	child    personkey.Key
	id, kind string
	at       time.Time
}

type fakeStore struct {
	turning map[string][]agejob.Link // age|day
	ended   []agejob.Link
	notes   []note
	cursor  *nin.Date
	queried []string
	failOn  string // a day whose queries fail
}

func key(age int, day nin.Date) string {
	return string(rune('0'+age/10)) + string(rune('0'+age%10)) + "|" + day.String()
}

func (f *fakeStore) TurningOn(_ context.Context, age int, day nin.Date) ([]agejob.Link, error) {
	if day.String() == f.failOn {
		return nil, errors.New("query failed")
	}
	f.queried = append(f.queried, key(age, day))
	return f.turning[key(age, day)], nil
}

func (f *fakeStore) EndParent(_ context.Context, parent, child personkey.Key) error {
	f.ended = append(f.ended, agejob.Link{Parent: parent, Child: child})
	return nil
}

func (f *fakeStore) Note(_ context.Context, child personkey.Key, id, kind string, at time.Time) error {
	f.notes = append(f.notes, note{child, id, kind, at})
	return nil
}

func (f *fakeStore) Cursor(context.Context) (nin.Date, bool, error) {
	if f.cursor == nil {
		return nin.Date{}, false, nil
	}
	return *f.cursor, true, nil
}

func (f *fakeStore) SetCursor(_ context.Context, day nin.Date) error {
	f.cursor = &day
	return nil
}

const (
	mum  = personkey.Key("1111111111111111aaaa")
	dad  = personkey.Key("2222222222222222bbbb")
	kid  = personkey.Key("kid16")
	kid2 = personkey.Key("kid12")
)

func TestRun(t *testing.T) {
	now := time.Date(2026, 11, 30, 6, 0, 0, 0, clock.Oslo)
	today := clock.DateOf(now)
	yesterday := nin.Date{Year: 2026, Month: 11, Day: 29}
	twoDaysAgo := nin.Date{Year: 2026, Month: 11, Day: 28}
	links := map[string][]agejob.Link{
		key(16, today):     {{Parent: mum, Child: kid}, {Parent: dad, Child: kid}},
		key(12, yesterday): {{Parent: mum, Child: kid2}},
	}
	tests := []struct {
		name      string
		cursor    *nin.Date
		failOn    string
		want      agejob.Summary
		wantErr   bool
		wantNotes []note
		wantAt    nin.Date // the cursor afterwards
	}{
		{"first run looks back", nil, "", agejob.Summary{Days: agejob.FirstRunLookback + 1, Ended: 2, Restricted: 1}, false, []note{
			{kid2, "age12-" + string(mum)[:16], "parent_access_restricted", time.Date(2026, 11, 29, 0, 0, 0, 0, clock.Oslo)},
			{kid, "age16-" + string(mum)[:16], "parent_access_ended", time.Date(2026, 11, 30, 0, 0, 0, 0, clock.Oslo)},
			{kid, "age16-" + string(dad)[:16], "parent_access_ended", time.Date(2026, 11, 30, 0, 0, 0, 0, clock.Oslo)},
		}, today},
		{"catches up missed days", &twoDaysAgo, "", agejob.Summary{Days: 2, Ended: 2, Restricted: 1}, false, nil, today},
		{"today done already", &today, "", agejob.Summary{}, false, nil, today},
		{"a failed day stops before its cursor", &twoDaysAgo, today.String(), agejob.Summary{Days: 1, Restricted: 1}, true, nil, yesterday},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeStore{turning: links, cursor: tt.cursor, failOn: tt.failOn}
			j := &agejob.Job{Store: f, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			got, err := j.Run(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if f.cursor == nil || *f.cursor != tt.wantAt {
				t.Fatalf("cursor = %v, want %v", f.cursor, tt.wantAt)
			}
			if len(f.ended) != tt.want.Ended {
				t.Fatalf("ended %v, want %d", f.ended, tt.want.Ended)
			}
			if tt.wantNotes != nil {
				if len(f.notes) != len(tt.wantNotes) {
					t.Fatalf("notes = %+v, want %+v", f.notes, tt.wantNotes)
				}
				for i := range f.notes {
					if f.notes[i].child != tt.wantNotes[i].child || f.notes[i].id != tt.wantNotes[i].id || f.notes[i].kind != tt.wantNotes[i].kind || !f.notes[i].at.Equal(tt.wantNotes[i].at) {
						t.Fatalf("note %d = %+v, want %+v", i, f.notes[i], tt.wantNotes[i])
					}
				}
			}
		})
	}
}
