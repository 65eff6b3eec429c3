package idchange_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"privacycore/shared/domain/idchange"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
)

// history is an in-memory idchange.History.
type history map[personkey.Key]idchange.Change

func (h history) ChangedTo(_ context.Context, k personkey.Key) (idchange.Change, bool, error) {
	c, ok := h[k]
	return c, ok, nil
}

func (h history) Record(_ context.Context, from, target personkey.Key, c idchange.Change) error {
	if old, ok := h[from]; ok && old.To != c.To {
		return idchange.ErrConflict
	}
	if _, ok := h[target]; ok {
		return idchange.ErrRetiredMeanwhile
	}
	h[from] = c
	return nil
}

func (h history) MarkMoved(_ context.Context, from personkey.Key) error {
	c := h[from]
	c.Moved = true
	h[from] = c
	return nil
}

func (h history) MovingIn(_ context.Context, key personkey.Key) (bool, error) {
	for _, c := range h {
		if c.To == key && !c.Moved {
			return true, nil
		}
	}
	return false, nil
}

func changes(pairs ...string) history {
	h := history{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h[personkey.Key(pairs[i])] = idchange.Change{To: personkey.Key(pairs[i+1]), Moved: true}
	}
	return h
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		history  history
		from, to string
		want     idchange.Plan
		wantErr  error
	}{
		{name: "first change", history: changes(), from: "A", to: "B", want: idchange.Plan{Target: "B", Record: true}},
		{name: "A→B after B→C follows the chain", history: changes("B", "C"), from: "A", to: "B", want: idchange.Plan{Target: "C", Record: true}},
		{name: "B→C after A→B", history: changes("A", "B"), from: "B", to: "C", want: idchange.Plan{Target: "C", Record: true}},
		{name: "a longer chain", history: changes("B", "C", "C", "D", "D", "E"), from: "A", to: "B", want: idchange.Plan{Target: "E", Record: true}},
		{name: "redelivery of a recorded change", history: changes("A", "B"), from: "A", to: "B", want: idchange.Plan{Target: "B"}},
		{name: "redelivery after the next change", history: changes("A", "B", "B", "C"), from: "A", to: "B", want: idchange.Plan{Target: "C"}},
		{name: "same person by another recorded route", history: changes("A", "B", "B", "C"), from: "A", to: "C", want: idchange.Plan{Target: "C"}},
		{name: "X→Y→X is a cycle", history: changes("X", "Y"), from: "Y", to: "X", wantErr: idchange.ErrCycle},
		{name: "a longer cycle", history: changes("X", "Y", "Y", "Z"), from: "Z", to: "X", wantErr: idchange.ErrCycle},
		{name: "a loop in the history", history: changes("B", "C", "C", "B"), from: "A", to: "B", wantErr: idchange.ErrCycle},
		{name: "old id already changed to someone else", history: changes("A", "B"), from: "A", to: "D", wantErr: idchange.ErrConflict},
		{name: "a chain too long", history: longChain(idchange.MaxChain + 1), from: "A", to: "K0", wantErr: idchange.ErrChainTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idchange.Decide(context.Background(), tt.history, personkey.Key(tt.from), personkey.Key(tt.to))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func longChain(n int) history {
	h := history{}
	for i := range n {
		h[personkey.Key(fmt.Sprint("K", i))] = idchange.Change{To: personkey.Key(fmt.Sprint("K", i+1))}
	}
	return h
}

func TestMovedWins(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		moved, existing time.Time
		want            bool
	}{
		{"moved newer", t0.Add(time.Second), t0, true},
		{"existing newer", t0, t0.Add(time.Second), false},
		{"tie keeps the new id's", t0, t0, false},
		{"moved time unknown", time.Time{}, t0, false},
		{"existing time unknown", t0, time.Time{}, true},
	}
	for _, tt := range tests {
		if got := idchange.MovedWins(tt.moved, tt.existing); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMergeKin(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	kin := func(id, name, phone string) profile.NextOfKin {
		return profile.NextOfKin{ID: id, Name: name, Phone: phone, Relation: "sibling"}
	}
	anna, bo, cia := kin("a", "Anna", "+4791000001"), kin("b", "Bo", "+4791000002"), kin("c", "Cia", "+4791000003")
	annaAgain := kin("a2", "ANNA", "+4791000001") // the same person, added under the other id
	tests := []struct {
		name            string
		moved, existing profile.Kin
		want            profile.Kin
	}{
		{
			name:     "union, closest of the newer list (the moved one)",
			moved:    profile.Kin{Items: []profile.NextOfKin{anna, bo}, Closest: "b", Version: 4, UpdatedAt: t0.Add(time.Hour)},
			existing: profile.Kin{Items: []profile.NextOfKin{cia}, Closest: "c", Version: 1, UpdatedAt: t0},
			want:     profile.Kin{Items: []profile.NextOfKin{anna, bo, cia}, Closest: "b", Version: 5, UpdatedAt: t0.Add(time.Hour)},
		},
		{
			name:     "union, closest of the newer list (the new id's)",
			moved:    profile.Kin{Items: []profile.NextOfKin{anna, bo}, Closest: "b", Version: 4, UpdatedAt: t0},
			existing: profile.Kin{Items: []profile.NextOfKin{cia}, Closest: "c", Version: 7, UpdatedAt: t0.Add(time.Hour)},
			want:     profile.Kin{Items: []profile.NextOfKin{cia, anna, bo}, Closest: "c", Version: 8, UpdatedAt: t0.Add(time.Hour)},
		},
		{
			name:     "the same person once",
			moved:    profile.Kin{Items: []profile.NextOfKin{annaAgain, bo}, Closest: "a2", Version: 1, UpdatedAt: t0},
			existing: profile.Kin{Items: []profile.NextOfKin{anna}, Closest: "a", Version: 1, UpdatedAt: t0.Add(time.Minute)},
			want:     profile.Kin{Items: []profile.NextOfKin{anna, bo}, Closest: "a", Version: 2, UpdatedAt: t0.Add(time.Minute)},
		},
		{
			name:     "the new id's list is empty, and the older closest is a duplicate",
			moved:    profile.Kin{Items: []profile.NextOfKin{annaAgain, anna, bo}, Closest: "a", Version: 1, UpdatedAt: t0},
			existing: profile.Kin{Version: 2, UpdatedAt: t0.Add(time.Minute)},
			want:     profile.Kin{Items: []profile.NextOfKin{annaAgain, bo}, Closest: "a2", Version: 3, UpdatedAt: t0.Add(time.Minute)},
		},
		{
			name:     "the new id has none",
			moved:    profile.Kin{Items: []profile.NextOfKin{anna}, Closest: "a", Version: 2, UpdatedAt: t0},
			existing: profile.Kin{Version: 3, UpdatedAt: t0.Add(time.Minute)},
			want:     profile.Kin{Items: []profile.NextOfKin{anna}, Closest: "a", Version: 4, UpdatedAt: t0.Add(time.Minute)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := idchange.MergeKin(tt.moved, tt.existing)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSettled(t *testing.T) {
	moving := changes("A", "B", "B", "C")
	moving["B"] = idchange.Change{To: "C"} // B→C recorded, not yet moved
	tests := []struct {
		name    string
		history history
		key     string
		want    personkey.Key
		wantErr error
	}{
		{"not retired", changes(), "A", "A", nil},
		{"a moved chain", changes("A", "B", "B", "C"), "A", "C", nil},
		{"a change still moving", moving, "A", "", idchange.ErrMoving},
		{"a change still moving into the key", moving, "C", "", idchange.ErrMoving},
		{"a loop", changes("A", "B", "B", "A"), "A", "", idchange.ErrCycle},
	}
	for _, tt := range tests {
		got, err := idchange.Settled(context.Background(), tt.history, personkey.Key(tt.key))
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

// A transient read error is not a refusal: the notice is retried.
func TestDecideReadErrorIsNotARefusal(t *testing.T) {
	h := failing{history: changes("A", "B"), fail: "B"}
	_, err := idchange.Decide(context.Background(), h, "A", "D")
	if err == nil || idchange.Refused(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
}

type failing struct {
	history
	fail personkey.Key
}

func (f failing) ChangedTo(ctx context.Context, k personkey.Key) (idchange.Change, bool, error) {
	if k == f.fail {
		return idchange.Change{}, false, errors.New("throttled")
	}
	return f.history.ChangedTo(ctx, k)
}
