package sectoraccess_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/sectoraccess"
)

func reason(err error) string {
	if e, ok := domain.AsError(err); ok {
		return e.Reason
	}
	return err.Error()
}

type memStore struct {
	st      map[personkey.Key]sectoraccess.State
	changes []sectoraccess.Change
	links   map[[2]personkey.Key]nin.Date
}

func (m *memStore) Sector(_ context.Context, k personkey.Key) (sectoraccess.State, error) {
	return m.st[k], nil
}

func (m *memStore) SaveSector(_ context.Context, k personkey.Key, u sectoraccess.Update) error {
	if m.st[k].Version != u.Expect {
		return sectoraccess.ErrVersionConflict
	}
	m.st[k] = u.Next
	m.changes = append(m.changes, u.Changes...)
	return nil
}

func (m *memStore) SectorHistory(context.Context, personkey.Key, int, string) ([]sectoraccess.Change, string, error) {
	return m.changes, "", nil
}

func (m *memStore) ChildBirth(_ context.Context, p, c personkey.Key) (nin.Date, bool, error) {
	d, ok := m.links[[2]personkey.Key{p, c}]
	return d, ok, nil
}

var now = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

func newService() (*sectoraccess.Service, *memStore) {
	m := &memStore{st: map[personkey.Key]sectoraccess.State{}, links: map[[2]personkey.Key]nin.Date{}}
	n := 0
	return &sectoraccess.Service{Store: m, Links: m, Now: func() time.Time { return now }, NewID: func() string { n++; return fmt.Sprint(n) }}, m
}

func TestChangesRecordEachSettingWithoutValues(t *testing.T) {
	s, m := newService()
	who := sectoraccess.Who{By: sectoraccess.BySelf, Channel: sectoraccess.Portal}
	st, err := s.SetPrescriptions(context.Background(), "k", sectoraccess.PrescriptionsInput{Limited: []string{rxX, rxX}, Blocked: []string{"7654321", "1234567"}, OnlyGP: true}, nil, who)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(st.Prescriptions.Blocked, st.Prescriptions.Limited, st.Version); got != "[1234567 7654321] ["+rxX+"] 1" {
		t.Errorf("state: got %s", got)
	}
	var got []string
	for _, c := range m.changes {
		got = append(got, string(c.Setting)+"="+c.Value)
	}
	if want := "[rx_limited_prescriptions=entries:1 rx_blocked_professionals=entries:2 rx_only_gp=on]"; fmt.Sprint(got) != want {
		t.Errorf("history: got %v, want %s", got, want)
	}
	// The same again changes nothing and records nothing.
	again, err := s.SetPrescriptions(context.Background(), "k", sectoraccess.PrescriptionsInput{Limited: []string{rxX}, Blocked: []string{"1234567", "7654321"}, OnlyGP: true}, nil, who)
	if err != nil || again.Version != 1 || len(m.changes) != 3 {
		t.Errorf("repeat: version %d, %d changes, %v", again.Version, len(m.changes), err)
	}
}

func TestIfMatch(t *testing.T) {
	s, _ := newService()
	who := sectoraccess.Who{By: sectoraccess.BySelf, Channel: sectoraccess.Portal}
	v0 := int64(0)
	if _, err := s.SetSCR(context.Background(), "k", sectoraccess.SCRInput{Limited: true}, &v0, who); err != nil {
		t.Fatal(err)
	}
	_, err := s.SetSCR(context.Background(), "k", sectoraccess.SCRInput{}, &v0, who)
	if got := reason(err); got != "version_mismatch" {
		t.Errorf("stale If-Match: got %q, want version_mismatch", got)
	}
	if st, _ := s.Get(context.Background(), "k"); !st.SCR.Limited || st.Version != 1 {
		t.Errorf("a refused change changed something: %+v", st)
	}
}

func TestInvalidInputChangesNothing(t *testing.T) {
	s, m := newService()
	who := sectoraccess.Who{By: sectoraccess.BySelf, Channel: sectoraccess.Portal}
	many := make([]string, sectoraccess.MaxProfessionals+1)
	for i := range many {
		many[i] = fmt.Sprint(1000000 + i)
	}
	for name, in := range map[string]sectoraccess.SCRInput{
		"bad HPR":   {Blocked: []string{"12"}},
		"person id": {Blocked: []string{"14838500073"}},
		"too many":  {Blocked: many},
	} {
		if _, err := s.SetSCR(context.Background(), "k", in, nil, who); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if len(m.st) != 0 || len(m.changes) != 0 {
		t.Errorf("bad input changed state: %v %v", m.st, m.changes)
	}
}

func TestParentMayFollowsCatalogue(t *testing.T) {
	tests := []struct {
		service string
		age     int
		want    bool
	}{
		{sectoraccess.ServicePersonnel, 0, true}, {sectoraccess.ServicePersonnel, 11, true},
		{sectoraccess.ServicePersonnel, 12, false}, {sectoraccess.ServicePersonnel, 15, false},
		{sectoraccess.ServiceResearch, 11, true}, {sectoraccess.ServiceResearch, 15, true}, {sectoraccess.ServiceResearch, 16, false},
		{sectoraccess.ServiceRegistries, 13, true}, {"no_such_service", 5, false},
	}
	for _, tt := range tests {
		if got := sectoraccess.ParentMay(tt.service, tt.age); got != tt.want {
			t.Errorf("ParentMay(%s, %d) = %v, want %v", tt.service, tt.age, got, tt.want)
		}
	}
}

func TestSubject(t *testing.T) {
	s, m := newService()
	m.links[[2]personkey.Key{"parent", "small"}] = nin.Date{Year: 2016, Month: 2, Day: 29}
	m.links[[2]personkey.Key{"parent", "teen"}] = nin.Date{Year: 2012, Month: 5, Day: 5}
	tests := []struct {
		name, child, service string
		want                 string
	}{
		{"self", "", sectoraccess.ServicePersonnel, "parent/self"},
		{"child under 12, personnel", "small", sectoraccess.ServicePersonnel, "small/parent"},
		{"child of 14, personnel", "teen", sectoraccess.ServicePersonnel, "not_your_child"},
		{"child of 14, research", "teen", sectoraccess.ServiceResearch, "teen/parent"},
		{"not a child (a grantor, say)", "grantor", sectoraccess.ServiceResearch, "not_your_child"},
	}
	for _, tt := range tests {
		k, by, err := s.Subject(context.Background(), "parent", personkey.Key(tt.child), tt.service)
		got := string(k) + "/" + string(by)
		if err != nil {
			got = reason(err)
		}
		if got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}
