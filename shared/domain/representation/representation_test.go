package representation_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/poa"
	"privacycore/shared/domain/representation"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

var keys, _ = personkey.New([]byte(personkey.DevSecret))

func id(t *testing.T, s string) nin.ID {
	t.Helper()
	p, err := nin.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakes is the grant store, the relation store and the records reader.
type fakes struct {
	grants   map[string]poa.Grant // by id
	children map[personkey.Key][]personkey.Key
	recs     map[[2]personkey.Key]access.Records
	reads    map[[2]personkey.Key]int // AccessRecords calls per (actor, subject)
	// failWith, if set, is what the next write returns.
	failWith error
}

func newFakes() *fakes {
	return &fakes{grants: map[string]poa.Grant{}, children: map[personkey.Key][]personkey.Key{}, recs: map[[2]personkey.Key]access.Records{}, reads: map[[2]personkey.Key]int{}}
}

func (f *fakes) fail() error {
	err := f.failWith
	f.failWith = nil
	return err
}

func (f *fakes) CreateGrant(_ context.Context, g poa.Grant) error {
	if err := f.fail(); err != nil {
		return err
	}
	f.grants[g.ID] = g
	return nil
}

func (f *fakes) Grants(_ context.Context, key personkey.Key) (given, received []poa.Grant, err error) {
	for _, g := range f.grants {
		if g.Grantor == key {
			given = append(given, g)
		}
		if g.Grantee == key {
			received = append(received, g)
		}
	}
	return given, received, nil
}

func (f *fakes) GivenGrant(_ context.Context, grantor personkey.Key, id string) (poa.Grant, error) {
	if g, ok := f.grants[id]; ok && g.Grantor == grantor {
		return g, nil
	}
	return poa.Grant{}, poa.ErrGrantNotFound
}

func (f *fakes) UpdateGrant(_ context.Context, g poa.Grant, expect int64) error {
	if err := f.fail(); err != nil {
		return err
	}
	if f.grants[g.ID].Version != expect {
		return poa.ErrConcurrentUpdate
	}
	f.grants[g.ID] = g
	return nil
}

func (f *fakes) DeleteGrant(_ context.Context, g poa.Grant) error {
	if err := f.fail(); err != nil {
		return err
	}
	delete(f.grants, g.ID)
	return nil
}

func (f *fakes) Children(_ context.Context, parent personkey.Key) ([]personkey.Key, error) {
	return f.children[parent], nil
}

func (f *fakes) AccessRecords(_ context.Context, actor, subject personkey.Key) (access.Records, error) {
	f.reads[[2]personkey.Key{actor, subject}]++
	return f.recs[[2]personkey.Key{actor, subject}], nil
}

func service(f *fakes) *representation.Service {
	n := 0
	return &representation.Service{Grants: f, Children: f, Records: f, Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, Now: func() time.Time { return now },
		NewID: func() string {
			n++
			return []string{"", "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"}[n]
		}}
}

var full = access.Person{Consent: consent.State{Status: consent.StatusActive, Level: consent.Full, Version: 1}}

func reason(err error) string {
	if e, ok := domain.AsError(err); ok {
		return e.Reason + ": " + e.Message
	}
	if err != nil {
		return "internal: " + err.Error()
	}
	return ""
}

func TestGrant(t *testing.T) {
	kari, ola := id(t, "14838500073"), id(t, "01879000099")
	kk := keys.Key(kari)
	to := now.Add(30 * 24 * time.Hour)
	tests := []struct {
		name    string
		grantor access.Person
		req     representation.GrantRequest
		exists  bool
		want    string // reason: message, "" for success
	}{
		{"given", full, representation.GrantRequest{Grantor: kari, Grantee: "01879000099", Areas: []access.Area{access.AreaHealthData, access.AreaCommunication}, ValidTo: to}, false, ""},
		{"grantee not an id", full, representation.GrantRequest{Grantor: kari, Grantee: "0187900009", Areas: []access.Area{access.AreaHealthData}, ValidTo: to}, false,
			"invalid_grantee: grantee is not a valid person id."},
		{"to oneself", full, representation.GrantRequest{Grantor: kari, Grantee: "14838500073", Areas: []access.Area{access.AreaHealthData}, ValidTo: to}, false,
			"grantee_is_grantor: You cannot give a power of attorney to yourself."},
		{"terms checked", full, representation.GrantRequest{Grantor: kari, Grantee: "01879000099", ValidTo: to}, false,
			"areas_required: Choose at least one service area."},
		{"no consent", access.Person{}, representation.GrantRequest{Grantor: kari, Grantee: "01879000099", Areas: []access.Area{access.AreaHealthData}, ValidTo: to}, false,
			"consent_required: Give consent to use Helsenorge before you give a power of attorney."},
		{"blocked", access.Person{Consent: full.Consent, Settings: access.Settings{EmergencyBlock: true}}, representation.GrantRequest{Grantor: kari, Grantee: "01879000099", Areas: []access.Area{access.AreaHealthData}, ValidTo: to}, false,
			"emergency_block: Logged-in services are blocked for you."},
		{"deceased", access.Person{Consent: full.Consent, Deceased: true}, representation.GrantRequest{Grantor: kari, Grantee: "01879000099", Areas: []access.Area{access.AreaHealthData}, ValidTo: to}, false,
			"deceased: The population register reports this person as deceased."},
		{"already given", full, representation.GrantRequest{Grantor: kari, Grantee: "01879000099", Areas: []access.Area{access.AreaHealthData}, ValidTo: to}, true,
			"grant_exists: You have already given this person a power of attorney; change it instead."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakes()
			f.recs[[2]personkey.Key{kk, kk}] = access.Records{Subject: tt.grantor}
			if tt.exists {
				f.failWith = poa.ErrGrantExists
			}
			g, err := service(f).Grant(context.Background(), tt.req)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.want != "" {
				if len(f.grants) != 0 {
					t.Fatalf("a refused grant was stored: %v", f.grants)
				}
				return
			}
			want := poa.Grant{ID: "0123456789abcdef0123456789abcdef", Grantor: kk, Grantee: keys.Key(ola),
				Areas: poa.Normalize(tt.req.Areas), ValidFrom: now, ValidTo: to, CreatedAt: now, UpdatedAt: now, ConfirmedAt: now, Version: 1}
			if stored := f.grants[g.ID]; !equal(g, want) || !equal(stored, want) {
				t.Fatalf("got %+v, stored %+v, want %+v", g, stored, want)
			}
		})
	}
}

func equal(a, b poa.Grant) bool {
	return a.ID == b.ID && a.Grantor == b.Grantor && a.Grantee == b.Grantee && slices.Equal(a.Areas, b.Areas) &&
		a.ValidFrom.Equal(b.ValidFrom) && a.ValidTo.Equal(b.ValidTo) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) && a.ConfirmedAt.Equal(b.ConfirmedAt) && a.Version == b.Version
}

// seeded returns fakes with Kari (full consent) having given Ola one grant.
func seeded(t *testing.T) (*fakes, poa.Grant) {
	kari, ola := id(t, "14838500073"), id(t, "01879000099")
	f := newFakes()
	kk := keys.Key(kari)
	f.recs[[2]personkey.Key{kk, kk}] = access.Records{Subject: full}
	g := poa.Grant{ID: "00000000000000000000000000000001", Grantor: kk, Grantee: keys.Key(ola), Areas: []access.Area{access.AreaHealthData},
		ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, ConfirmedAt: now, Version: 3}
	f.grants[g.ID] = g
	return f, g
}

func TestChange(t *testing.T) {
	kari, ola := id(t, "14838500073"), id(t, "01879000099")
	later := now.Add(48 * time.Hour)
	tests := []struct {
		name     string
		caller   nin.ID
		id       string
		change   representation.Change
		failWith error
		want     string
		grantor  *access.Person // the grantor's records now; nil: full consent
	}{
		{"areas and end", kari, "00000000000000000000000000000001", representation.Change{Areas: []access.Area{access.AreaAdministration}, ValidTo: &later}, nil, "", nil},
		{"malformed id", kari, "1", representation.Change{ValidTo: &later}, nil, "grant_not_found: You have not given a power of attorney with this id.", nil},
		{"someone else's grant", ola, "00000000000000000000000000000001", representation.Change{ValidTo: &later}, nil, "grant_not_found: You have not given a power of attorney with this id.", nil},
		{"terms checked", kari, "00000000000000000000000000000001", representation.Change{Areas: []access.Area{}}, nil, "areas_required: Choose at least one service area.", nil},
		{"changed meanwhile", kari, "00000000000000000000000000000001", representation.Change{ValidTo: &later}, poa.ErrConcurrentUpdate,
			"concurrent_update: The power of attorney was changed or ended meanwhile. Read it again and retry.", nil},
		{"grantor withdrew consent", kari, "00000000000000000000000000000001", representation.Change{ValidTo: &later}, nil,
			"consent_required: Give consent to use Helsenorge before you give a power of attorney.", &access.Person{Consent: consent.State{Status: consent.StatusWithdrawn, Version: 2}}},
		{"grantor blocked", kari, "00000000000000000000000000000001", representation.Change{ValidTo: &later}, nil,
			"emergency_block: Logged-in services are blocked for you.", &access.Person{Consent: full.Consent, Settings: access.Settings{EmergencyBlock: true}}},
		{"grantor deceased", kari, "00000000000000000000000000000001", representation.Change{ValidTo: &later}, nil,
			"deceased: The population register reports this person as deceased.", &access.Person{Consent: full.Consent, Deceased: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, before := seeded(t)
			f.failWith = tt.failWith
			if tt.grantor != nil {
				f.recs[[2]personkey.Key{before.Grantor, before.Grantor}] = access.Records{Subject: *tt.grantor}
			}
			g, err := service(f).Change(context.Background(), tt.caller, tt.id, tt.change)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.want != "" {
				if !equal(f.grants[before.ID], before) {
					t.Fatalf("a refused change changed the grant: %+v", f.grants[before.ID])
				}
				return
			}
			want := before
			want.Areas, want.ValidTo, want.Version, want.UpdatedAt = tt.change.Areas, later, before.Version+1, now
			if !equal(g, want) || !equal(f.grants[before.ID], want) {
				t.Fatalf("got %+v, stored %+v, want %+v", g, f.grants[before.ID], want)
			}
		})
	}
}

func TestEnd(t *testing.T) {
	kari, ola := id(t, "14838500073"), id(t, "01879000099")
	tests := []struct {
		name     string
		caller   nin.ID
		failWith error
		want     string
	}{
		{"ended", kari, nil, ""},
		{"not the grantor", ola, nil, "grant_not_found: You have not given a power of attorney with this id."},
		{"gone meanwhile", kari, poa.ErrGrantNotFound, "grant_not_found: The power of attorney no longer exists."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, g := seeded(t)
			f.failWith = tt.failWith
			_, err := service(f).End(context.Background(), tt.caller, g.ID)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if _, left := f.grants[g.ID]; left != (tt.want != "") {
				t.Fatalf("grant left = %v after %q", left, tt.want)
			}
		})
	}
}

func TestPeople(t *testing.T) {
	kari := id(t, "14838500073")
	ten, sixteen, fostered := id(t, "29821650087"), id(t, "04031051296"), id(t, "05851250095")
	grantorA, grantorB := id(t, "01879000099"), id(t, "17058512311")
	kk := keys.Key(kari)
	f := newFakes()
	f.recs[[2]personkey.Key{kk, kk}] = access.Records{Subject: full}
	f.children[kk] = []personkey.Key{keys.Key(ten), keys.Key(sixteen), keys.Key(fostered)}
	f.recs[[2]personkey.Key{kk, keys.Key(ten)}] = access.Records{Link: &access.Link{}, ChildBirth: ten.BirthDate(), Subject: access.Person{Birth: ten.BirthDate()}}
	f.recs[[2]personkey.Key{kk, keys.Key(sixteen)}] = access.Records{Link: &access.Link{}, ChildBirth: sixteen.BirthDate()}
	f.recs[[2]personkey.Key{kk, keys.Key(fostered)}] = access.Records{Link: &access.Link{Foster: true}, ChildBirth: fostered.BirthDate()}
	valid := &access.Grant{Areas: []access.Area{access.AreaCommunication}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)}
	f.recs[[2]personkey.Key{kk, keys.Key(grantorA)}] = access.Records{Subject: full, Grant: valid}
	f.grants["a"] = poa.Grant{ID: "a", Grantor: keys.Key(grantorA), Grantee: kk, Areas: valid.Areas, ValidFrom: valid.ValidFrom, ValidTo: valid.ValidTo}
	f.grants["b"] = poa.Grant{ID: "b", Grantor: keys.Key(grantorB), Grantee: kk, Areas: valid.Areas, ValidFrom: now.Add(-2 * time.Hour), ValidTo: now.Add(-time.Hour)}

	people, err := service(f).People(context.Background(), kari)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ref      personkey.Key
		relation string
		age      int
		validTo  time.Time
	}
	var got []row
	for _, p := range people {
		r := row{ref: p.Ref, relation: p.Relation}
		if p.Age != nil {
			r.age = *p.Age
		}
		if p.ValidTo != nil {
			r.validTo = *p.ValidTo
		}
		got = append(got, r)
		if p.Relation != representation.RelationSelf && len(p.Services) == 0 {
			t.Errorf("%s: no services, want some", p.Relation)
		}
	}
	want := []row{{kk, "self", 0, time.Time{}}, {keys.Key(ten), "child", 10, time.Time{}}, {keys.Key(grantorA), "grantor", 0, valid.ValidTo}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v (no 16-year-old, no foster child, no expired grantor)", got, want)
	}
	if !slices.Contains(people[0].Services, "medicines") || !slices.Contains(people[1].Services, "vaccinations") || slices.Contains(people[2].Services, "medicines") {
		t.Fatalf("services: self %v, child %v, grantor %v", people[0].Services, people[1].Services, people[2].Services)
	}
	for pair, n := range f.reads {
		if n != 1 {
			t.Errorf("records of %s read %d times, want once", pair[1], n)
		}
	}
}

func TestConfirm(t *testing.T) {
	write, _ := access.Lookup("write_to_providers")
	october := write.SignificantSince.Add(-30 * 24 * time.Hour)
	stranger := id(t, "17058512311")
	tests := []struct {
		name        string
		caller      string // default Kari, the grantor
		confirmedAt time.Time
		consent     consent.Status
		failWith    error
		want        string
		wantVersion int64
		wantAt      time.Time
	}{
		{name: "old grant: confirmed now", confirmedAt: october, wantVersion: 4, wantAt: now},
		{name: "already confirmed: returned as it is", confirmedAt: now.Add(-time.Hour), wantVersion: 3, wantAt: now.Add(-time.Hour)},
		{name: "someone else's grant id", caller: "17058512311", confirmedAt: october, want: "grant_not_found: You have not given a power of attorney with this id.", wantVersion: 3, wantAt: october},
		{name: "no consent", confirmedAt: october, consent: consent.StatusWithdrawn, want: "consent_required: Give consent to use Helsenorge before you give a power of attorney.", wantVersion: 3, wantAt: october},
		{name: "changed meanwhile", confirmedAt: october, failWith: poa.ErrConcurrentUpdate, want: "concurrent_update: The power of attorney was changed or ended meanwhile. Read it again and retry.", wantVersion: 3, wantAt: october},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, g := seeded(t)
			g.Areas = []access.Area{access.AreaCommunication}
			g.CreatedAt, g.ConfirmedAt = october, tt.confirmedAt
			f.grants[g.ID] = g
			if tt.consent != "" {
				f.recs[[2]personkey.Key{g.Grantor, g.Grantor}] = access.Records{Subject: access.Person{Consent: consent.State{Status: tt.consent}}}
			}
			f.recs[[2]personkey.Key{keys.Key(stranger), keys.Key(stranger)}] = access.Records{Subject: full}
			f.failWith = tt.failWith
			caller := id(t, "14838500073")
			if tt.caller != "" {
				caller = id(t, tt.caller)
			}
			got, err := service(f).Confirm(context.Background(), caller, g.ID)
			if r := reason(err); r != tt.want {
				t.Fatalf("got %q, want %q", r, tt.want)
			}
			stored := f.grants[g.ID]
			if stored.Version != tt.wantVersion || !stored.ConfirmedAt.Equal(tt.wantAt) {
				t.Fatalf("stored version %d confirmed %s, want %d %s", stored.Version, stored.ConfirmedAt, tt.wantVersion, tt.wantAt)
			}
			if err != nil {
				return
			}
			if !equal(got, stored) {
				t.Fatalf("returned %+v, stored %+v", got, stored)
			}
			ag := stored.Access()
			d := access.Decide(access.Facts{Service: write, Subject: full, Grant: &ag, Now: now})
			if !d.Allowed || len(stored.NeedsConfirmation()) != 0 {
				t.Fatalf("after confirming: %+v, needs %v", d, stored.NeedsConfirmation())
			}
		})
	}
}

func TestPeopleShowsGrantsThatNeedConfirmation(t *testing.T) {
	write, _ := access.Lookup("write_to_providers")
	kari, grantor := id(t, "14838500073"), id(t, "01879000099")
	kk, gk := keys.Key(kari), keys.Key(grantor)
	tests := []struct {
		name      string
		confirmed time.Time
		want      []string
	}{
		{"confirmed before write_to_providers", write.SignificantSince.Add(-time.Hour), []string{"write_to_providers"}},
		{"confirmed after", write.SignificantSince.Add(time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakes()
			f.recs[[2]personkey.Key{kk, kk}] = access.Records{Subject: full}
			g := poa.Grant{ID: "a", Grantor: gk, Grantee: kk, Areas: []access.Area{access.AreaCommunication}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour), ConfirmedAt: tt.confirmed}
			ag := g.Access()
			f.recs[[2]personkey.Key{kk, gk}] = access.Records{Subject: full, Grant: &ag}
			f.grants[g.ID] = g
			people, err := service(f).People(context.Background(), kari)
			if err != nil {
				t.Fatal(err)
			}
			if len(people) != 2 || people[1].Relation != representation.RelationGrantor {
				t.Fatalf("people %+v, want self and the grantor", people)
			}
			if got := people[1].NeedsConfirmation; !slices.Equal(got, tt.want) {
				t.Errorf("needs confirmation %v, want %v", got, tt.want)
			}
			if got := slices.Contains(people[1].Services, "write_to_providers"); got != (tt.want == nil) {
				t.Errorf("write_to_providers offered: %v", got)
			}
			given, _, _ := service(f).List(context.Background(), grantor)
			if got := given[0].NeedsConfirmation(); !slices.Equal(got, tt.want) {
				t.Errorf("grantor's list: needs %v, want %v", got, tt.want)
			}
		})
	}
}
