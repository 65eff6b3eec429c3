package profile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
)

// memStore is an in-memory profile.Store for one or more people.
type memStore struct {
	mu       sync.Mutex
	channel  map[personkey.Key]profile.Channel
	kin      map[personkey.Key]profile.Kin
	employer map[personkey.Key]profile.Employer
	needs    map[personkey.Key]profile.CommunicationNeeds
	logins   map[personkey.Key]map[string]profile.Login
	apps     map[personkey.Key]map[string]profile.AppPermission
	// conflictOnce makes the next SaveNextOfKin fail as if another request won.
	conflictOnce bool
}

func newMemStore() *memStore {
	return &memStore{
		channel: map[personkey.Key]profile.Channel{}, kin: map[personkey.Key]profile.Kin{},
		employer: map[personkey.Key]profile.Employer{}, needs: map[personkey.Key]profile.CommunicationNeeds{},
		logins: map[personkey.Key]map[string]profile.Login{}, apps: map[personkey.Key]map[string]profile.AppPermission{},
	}
}

func (m *memStore) Profile(_ context.Context, k personkey.Key) (profile.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := profile.Snapshot{Channel: m.channel[k], Kin: m.kin[k]}
	if e, ok := m.employer[k]; ok {
		s.Employer = &e
	}
	if n, ok := m.needs[k]; ok {
		s.CommunicationNeeds = &n
	}
	for _, l := range m.logins[k] {
		s.Logins = append(s.Logins, l)
	}
	for _, a := range m.apps[k] {
		s.AppPermissions = append(s.AppPermissions, a)
	}
	return s, nil
}

func (m *memStore) SetNotificationChannel(_ context.Context, k personkey.Key, c profile.Channel, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.channel[k] = c
	return nil
}

func (m *memStore) NextOfKin(_ context.Context, k personkey.Key) (profile.Kin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kin[k], nil
}

func (m *memStore) SaveNextOfKin(_ context.Context, k personkey.Key, next profile.Kin, expect int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conflictOnce || m.kin[k].Version != expect {
		m.conflictOnce = false
		return profile.ErrVersionConflict
	}
	m.kin[k] = next
	return nil
}

func (m *memStore) SetEmployer(_ context.Context, k personkey.Key, e profile.Employer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.employer[k] = e
	return nil
}

func (m *memStore) DeleteEmployer(_ context.Context, k personkey.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.employer, k)
	return nil
}

func (m *memStore) SetCommunicationNeeds(_ context.Context, k personkey.Key, n profile.CommunicationNeeds) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.needs[k] = n
	return nil
}

func (m *memStore) DeleteCommunicationNeeds(_ context.Context, k personkey.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.needs, k)
	return nil
}

func (m *memStore) AddLogin(_ context.Context, k personkey.Key, l profile.Login) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.logins[k] == nil {
		m.logins[k] = map[string]profile.Login{}
	}
	m.logins[k][l.ID] = l
	return nil
}

func (m *memStore) Logins(_ context.Context, k personkey.Key) ([]profile.Login, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []profile.Login
	for _, l := range m.logins[k] {
		out = append(out, l)
	}
	return out, nil
}

func (m *memStore) DeleteLogin(_ context.Context, k personkey.Key, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.logins[k][id]; !ok {
		return profile.ErrNotFound
	}
	delete(m.logins[k], id)
	return nil
}

func (m *memStore) PutAppPermission(_ context.Context, k personkey.Key, p profile.AppPermission) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.apps[k] == nil {
		m.apps[k] = map[string]profile.AppPermission{}
	}
	_, existed := m.apps[k][p.ID]
	m.apps[k][p.ID] = p
	return !existed, nil
}

func (m *memStore) AppPermissions(_ context.Context, k personkey.Key) ([]profile.AppPermission, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []profile.AppPermission
	for _, a := range m.apps[k] {
		out = append(out, a)
	}
	return out, nil
}

func (m *memStore) DeleteAppPermission(_ context.Context, k personkey.Key, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.apps[k][id]; !ok {
		return profile.ErrNotFound
	}
	delete(m.apps[k], id)
	return nil
}

type consents map[personkey.Key]consent.State

func (c consents) Consent(_ context.Context, k personkey.Key) (consent.State, error) {
	if st, ok := c[k]; ok {
		return st, nil
	}
	return consent.State{Status: consent.StatusNone}, nil
}

// parents answers ParentChannels from a map and counts the calls.
type parents struct {
	channels map[personkey.Key][]profile.Channel
	calls    int
}

func (p *parents) ParentChannels(_ context.Context, child personkey.Key) ([]profile.Channel, error) {
	p.calls++
	return p.channels[child], nil
}

type contacts struct{ err error }

func (c contacts) Contact(context.Context, nin.ID) (profile.ContactDetails, error) {
	if c.err != nil {
		return profile.ContactDetails{}, c.err
	}
	return profile.ContactDetails{Phone: "+4799999999", Email: "x@example.invalid"}, nil
}

var now = time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)

type world struct {
	svc     *profile.Service
	store   *memStore
	parents *parents
	ids     int
}

func newWorld(people ...profile.Person) *world {
	w := &world{store: newMemStore(), parents: &parents{channels: map[personkey.Key][]profile.Channel{}}}
	cs := consents{}
	for _, p := range people {
		cs[p.Key] = consent.State{Status: consent.StatusActive, Level: consent.Basic, Version: 1}
	}
	w.svc = &profile.Service{
		Store: w.store, LoginStore: w.store, AppStore: w.store, Consents: cs, Parents: w.parents, Contacts: contacts{},
		Now: func() time.Time { return now }, NewID: w.newID,
	}
	return w
}

// newID hands out ids of the real shape, in order.
func (w *world) newID() string {
	w.ids++
	return fmt.Sprintf("%032x", w.ids)
}

func person(t *testing.T, birth nin.Date, key string) profile.Person {
	t.Helper()
	return profile.Person{ID: nin.ForTest(birth, true), Key: personkey.Key(key)}
}

func (w *world) open(t *testing.T, p profile.Person) profile.Subject {
	t.Helper()
	s, err := w.svc.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

var adult = nin.Date{Year: 1985, Month: time.March, Day: 14}

func TestOpenRequiresConsent(t *testing.T) {
	tests := []struct {
		name    string
		state   *consent.State
		wantErr string
	}{
		{"never consented", nil, "consent_required"},
		{"withdrawn", &consent.State{Status: consent.StatusWithdrawn, Version: 2}, "consent_required"},
		{"active basic", &consent.State{Status: consent.StatusActive, Level: consent.Basic}, ""},
		{"active full", &consent.State{Status: consent.StatusActive, Level: consent.Full}, ""},
		{"active with an unknown level", &consent.State{Status: consent.StatusActive, Level: "gold"}, "consent_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := person(t, adult, "k")
			cs := consents{}
			if tt.state != nil {
				cs[p.Key] = *tt.state
			}
			svc := &profile.Service{Consents: cs}
			_, err := svc.Open(context.Background(), p)
			if got := reason(err); got != tt.wantErr {
				t.Errorf("got %q, want %q", got, tt.wantErr)
			}
			if tt.wantErr != "" && domain.ErrorCode(err) != domain.EForbidden {
				t.Errorf("code: got %q, want forbidden", domain.ErrorCode(err))
			}
		})
	}
}

// records answers AccessRecords with the subject's own records.
type records map[personkey.Key]access.Person

func (r records) AccessRecords(_ context.Context, _, subject personkey.Key) (access.Records, error) {
	return access.Records{Subject: r[subject]}, nil
}

func TestOpenBarred(t *testing.T) {
	active := consent.State{Status: consent.StatusActive, Level: consent.Full}
	const closed = "Logged-in services are closed for this person."
	tests := []struct {
		name        string
		person      access.Person
		noConsent   bool
		wantReason  string
		wantMessage string
	}{
		{"nothing bars", access.Person{Consent: active}, false, "", ""},
		{"emergency block", access.Person{Consent: active, Settings: access.Settings{EmergencyBlock: true}}, false, "emergency_block", closed},
		{"deceased", access.Person{Consent: active, Deceased: true}, false, "deceased", closed},
		{"deceased and blocked", access.Person{Consent: active, Deceased: true, Settings: access.Settings{EmergencyBlock: true}}, false, "deceased", closed},
		{"other settings do not bar", access.Person{Consent: active, Settings: access.Settings{PatientRecordRemoved: true, SCROptedOut: true}}, false, "", ""},
		{"consent is checked first", access.Person{Deceased: true}, true, "consent_required", "Profile settings need your consent to use Helsenorge. Give consent first."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := person(t, adult, "k")
			cs := consents{}
			if !tt.noConsent {
				cs[p.Key] = active
			}
			svc := &profile.Service{Consents: cs, Records: records{p.Key: tt.person}}
			_, err := svc.Open(context.Background(), p)
			if got := reason(err); got != tt.wantReason {
				t.Fatalf("reason: got %q, want %q", got, tt.wantReason)
			}
			if err == nil {
				return
			}
			e, _ := domain.AsError(err)
			if e.Code != domain.EForbidden || e.Message != tt.wantMessage {
				t.Errorf("got %s %q, want forbidden %q", e.Code, e.Message, tt.wantMessage)
			}
		})
	}
}

// closest describes the next of kin as "name*" for the closest, "name" otherwise.
func closest(k profile.Kin) string {
	var out []string
	for _, n := range k.Items {
		s := n.Name
		if n.ID == k.Closest {
			s += "*"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func TestNextOfKinKeepsExactlyOneClosest(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	ctx := context.Background()
	add := func(name, phone string, isClosest bool) (profile.NextOfKin, profile.Kin, error) {
		return w.svc.AddNextOfKin(ctx, sub, profile.NewKin{Name: name, Phone: phone, Relation: profile.RelationSibling, Closest: isClosest}, nil)
	}
	a, k, err := add("Anna", "+4791000001", false)
	if err != nil || closest(k) != "Anna*" || k.Version != 1 {
		t.Fatalf("first: got %s v%d %v, want Anna* v1 (the first is always closest)", closest(k), k.Version, err)
	}
	b, k, _ := add("Bjørn", "+4791000002", false)
	if closest(k) != "Anna*,Bjørn" {
		t.Fatalf("second: got %s", closest(k))
	}
	c, k, _ := add("Cecilie", "+4791000003", true)
	if closest(k) != "Anna,Bjørn,Cecilie*" || k.Version != 3 {
		t.Fatalf("added as closest: got %s v%d, want Anna,Bjørn,Cecilie* v3", closest(k), k.Version)
	}
	if _, _, err := add("cecilie", "+47 910 00 003", false); reason(err) != "next_of_kin_exists" {
		t.Errorf("same person again: got %q, want next_of_kin_exists", reason(err))
	}
	if k, err = w.svc.SetClosest(ctx, sub, b.ID, nil); err != nil || closest(k) != "Anna,Bjørn*,Cecilie" || k.Version != 4 {
		t.Fatalf("set closest: got %s v%d %v, want Anna,Bjørn*,Cecilie v4 in one change", closest(k), k.Version, err)
	}
	if k, err = w.svc.SetClosest(ctx, sub, b.ID, nil); err != nil || k.Version != 4 {
		t.Errorf("setting the closest again: got v%d %v, want a no-op at v4", k.Version, err)
	}
	if _, err := w.svc.RemoveNextOfKin(ctx, sub, b.ID, nil); reason(err) != "closest_needs_replacement" {
		t.Errorf("removing the closest while others remain: got %q, want closest_needs_replacement", reason(err))
	}
	if k, err = w.svc.RemoveNextOfKin(ctx, sub, a.ID, nil); err != nil || closest(k) != "Bjørn*,Cecilie" {
		t.Errorf("remove: got %s %v", closest(k), err)
	}
	if k, _ = w.svc.RemoveNextOfKin(ctx, sub, c.ID, nil); closest(k) != "Bjørn*" {
		t.Errorf("remove: got %s", closest(k))
	}
	if k, err = w.svc.RemoveNextOfKin(ctx, sub, b.ID, nil); err != nil || len(k.Items) != 0 || k.Closest != "" || k.Version != 7 {
		t.Errorf("removing the last (closest): got %+v %v, want empty at v7", k, err)
	}
	for _, id := range []string{a.ID, "nope", "", strings.ToUpper(a.ID)} {
		if _, err := w.svc.SetClosest(ctx, sub, id, nil); reason(err) != "next_of_kin_not_found" {
			t.Errorf("set closest %q: got %q, want next_of_kin_not_found", id, reason(err))
		}
		if _, err := w.svc.RemoveNextOfKin(ctx, sub, id, nil); reason(err) != "next_of_kin_not_found" {
			t.Errorf("remove %q: got %q, want next_of_kin_not_found", id, reason(err))
		}
	}
}

func TestNextOfKinLimit(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	for i := range profile.MaxNextOfKin {
		if _, _, err := w.svc.AddNextOfKin(context.Background(), sub, profile.NewKin{Name: "N", Phone: fmt.Sprintf("+479100%04d", i), Relation: profile.RelationOther}, nil); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	_, _, err := w.svc.AddNextOfKin(context.Background(), sub, profile.NewKin{Name: "N", Phone: "+4798765432", Relation: profile.RelationOther}, nil)
	if reason(err) != "too_many_next_of_kin" {
		t.Errorf("add %d: got %q, want too_many_next_of_kin", profile.MaxNextOfKin+1, reason(err))
	}
}

func TestNextOfKinValidation(t *testing.T) {
	ok := profile.NewKin{Name: "Ola", Phone: "+4791234567", Email: "ola@example.no", Relation: profile.RelationSpouse}
	tests := []struct {
		name    string
		change  func(*profile.NewKin)
		wantErr string
	}{
		{"valid", func(*profile.NewKin) {}, ""},
		{"no e-mail", func(n *profile.NewKin) { n.Email = "" }, ""},
		{"bad phone", func(n *profile.NewKin) { n.Phone = "12345" }, "invalid_phone"},
		{"bad e-mail", func(n *profile.NewKin) { n.Email = "Ola <ola@example.no>" }, "invalid_email"},
		{"no name", func(n *profile.NewKin) { n.Name = " " }, "invalid_name"},
		{"unknown relation", func(n *profile.NewKin) { n.Relation = "cousin" }, "unknown_relation"},
		{"no relation", func(n *profile.NewKin) { n.Relation = "" }, "unknown_relation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := person(t, adult, "k")
			w := newWorld(p)
			n := ok
			tt.change(&n)
			_, _, err := w.svc.AddNextOfKin(context.Background(), w.open(t, p), n, nil)
			if reason(err) != tt.wantErr {
				t.Errorf("got %q, want %q", reason(err), tt.wantErr)
			}
			if k, _ := w.store.NextOfKin(context.Background(), p.Key); (tt.wantErr == "") != (len(k.Items) == 1) {
				t.Errorf("stored %d next of kin", len(k.Items))
			}
		})
	}
}

func TestNextOfKinConflicts(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	ctx := context.Background()
	n := profile.NewKin{Name: "Ola", Phone: "+4791234567", Relation: profile.RelationSpouse}
	_, k, _ := w.svc.AddNextOfKin(ctx, sub, n, nil)
	stale := int64(0)
	tests := []struct {
		name     string
		ifMatch  *int64
		conflict bool // another request wins the conditional write
		want     string
	}{
		{"stale If-Match", &stale, false, "version_mismatch"},
		{"lost race without If-Match", nil, true, "concurrent_update"},
		{"lost race with If-Match", &k.Version, true, "version_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.store.conflictOnce = tt.conflict
			_, _, err := w.svc.AddNextOfKin(ctx, sub, profile.NewKin{Name: "Kari", Phone: "+4791234568", Relation: profile.RelationSibling, Closest: true}, tt.ifMatch)
			if reason(err) != tt.want {
				t.Errorf("got %q, want %q", reason(err), tt.want)
			}
			if got, _ := w.store.NextOfKin(ctx, p.Key); closest(got) != "Ola*" {
				t.Errorf("after the loss: %s, want Ola* unchanged", closest(got))
			}
		})
	}
	if _, k2, err := w.svc.AddNextOfKin(ctx, sub, profile.NewKin{Name: "Kari", Phone: "+4791234568", Relation: profile.RelationSibling}, &k.Version); err != nil || k2.Version != 2 {
		t.Errorf("fresh If-Match: got v%d %v, want v2", k2.Version, err)
	}
}

func TestNotificationChannel(t *testing.T) {
	child14 := nin.Date{Year: 2012, Month: time.May, Day: 5}
	turns16Today := nin.Date{Year: 2010, Month: time.November, Day: 23}
	turns16Tomorrow := nin.Date{Year: 2010, Month: time.November, Day: 24}
	tests := []struct {
		name          string
		birth         nin.Date
		own           profile.Channel
		parents       []profile.Channel
		want          string
		wantAskedPars bool
	}{
		{"adult, default", adult, "", nil, "sms [sms] self", false},
		{"adult who chose e-mail", adult, profile.ChannelEmail, []profile.Channel{profile.ChannelSMS}, "email [email] self", false},
		{"child with one parent on e-mail", child14, "", []profile.Channel{profile.ChannelEmail}, "sms [email] parents", true},
		{"child whose parents differ", child14, profile.ChannelEmail, []profile.Channel{"", profile.ChannelEmail}, "email [email sms] parents", true},
		{"child without registered parents", child14, profile.ChannelEmail, nil, "email [email] self", true},
		{"16 today (Oslo)", turns16Today, "", []profile.Channel{profile.ChannelEmail}, "sms [sms] self", false},
		{"16 tomorrow", turns16Tomorrow, "", []profile.Channel{profile.ChannelEmail}, "sms [email] parents", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := person(t, tt.birth, "c")
			w := newWorld(p)
			w.parents.channels[p.Key] = tt.parents
			sub := w.open(t, p)
			if tt.own != "" {
				if err := w.svc.SetNotificationChannel(context.Background(), sub, tt.own); err != nil {
					t.Fatal(err)
				}
			}
			v, _, err := w.svc.Get(context.Background(), sub)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%s %v %s", v.Notification.Channel, v.Notification.Effective, v.Notification.Source)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if asked := w.parents.calls > 0; asked != tt.wantAskedPars {
				t.Errorf("asked for parents' channels: %v, want %v (only for children)", asked, tt.wantAskedPars)
			}
		})
	}
	p := person(t, adult, "k")
	w := newWorld(p)
	for _, c := range []profile.Channel{"", "SMS", "post", "e-mail"} {
		if err := w.svc.SetNotificationChannel(context.Background(), w.open(t, p), c); reason(err) != "unknown_channel" {
			t.Errorf("channel %q: got %q, want unknown_channel", c, reason(err))
		}
	}
}

func TestGetWithoutContactRegister(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	w.svc.Contacts = contacts{err: errors.New("register down")}
	v, contactErr, err := w.svc.Get(context.Background(), w.open(t, p))
	if err != nil || contactErr == nil || v.Contact != nil || v.Notification.Channel != profile.ChannelSMS {
		t.Errorf("got contact %v, contactErr %v, err %v; want the profile without contact details and the register's error", v.Contact, contactErr, err)
	}
	w.svc.Contacts = contacts{}
	if v, contactErr, _ = w.svc.Get(context.Background(), w.open(t, p)); contactErr != nil || v.Contact == nil || v.Contact.Phone != "+4799999999" {
		t.Errorf("got contact %v, %v; want the register's details", v.Contact, contactErr)
	}
}

func TestEmployer(t *testing.T) {
	tests := []struct {
		name    string
		in      profile.Employer
		want    string
		wantErr string
	}{
		{"name only", profile.Employer{Name: " Helse Bergen HF "}, "Helse Bergen HF|||", ""},
		{"everything", profile.Employer{Name: "Helse Bergen HF", OrganisationNumber: "983 974 724", Phone: "+47 55 97 50 00", Email: "post@Helse-Bergen.NO"}, "Helse Bergen HF|983974724|+4755975000|post@helse-bergen.no", ""},
		{"no name", profile.Employer{OrganisationNumber: "983974724"}, "", "invalid_name"},
		{"bad organisation number", profile.Employer{Name: "X", OrganisationNumber: "983974725"}, "", "invalid_organisation_number"},
		{"bad phone", profile.Employer{Name: "X", Phone: "55975000"}, "", "invalid_phone"},
		{"bad e-mail", profile.Employer{Name: "X", Email: "post@"}, "", "invalid_email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := person(t, adult, "k")
			w := newWorld(p)
			e, err := w.svc.SetEmployer(context.Background(), w.open(t, p), tt.in)
			got := ""
			if err == nil {
				got = strings.Join([]string{e.Name, e.OrganisationNumber, e.Phone, e.Email}, "|")
			}
			if got != tt.want || reason(err) != tt.wantErr {
				t.Errorf("got %q %q, want %q %q", got, reason(err), tt.want, tt.wantErr)
			}
			if _, stored := w.store.employer[p.Key]; stored != (tt.wantErr == "") {
				t.Errorf("stored: %v", stored)
			}
		})
	}
}

func TestCommunicationNeeds(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	ctx := context.Background()
	n, err := w.svc.SetCommunicationNeeds(ctx, sub, profile.CommunicationNeeds{Text: " Snakk tydelig ", InterpreterLanguage: "uk", PlainLanguage: true})
	if err != nil || n.Text != "Snakk tydelig" || n.UpdatedAt != now {
		t.Fatalf("set: got %+v %v", n, err)
	}
	if _, ok := w.store.needs[p.Key]; !ok {
		t.Fatal("not stored")
	}
	for _, tt := range []struct {
		name string
		in   profile.CommunicationNeeds
		want string
	}{
		{"text too long", profile.CommunicationNeeds{Text: strings.Repeat("ø", profile.MaxTextLen+1)}, "text_too_long"},
		{"control character", profile.CommunicationNeeds{Text: "a\x07"}, "invalid_text"},
		{"unknown language", profile.CommunicationNeeds{InterpreterLanguage: "klingon"}, "unknown_language"},
	} {
		if _, err := w.svc.SetCommunicationNeeds(ctx, sub, tt.in); reason(err) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, reason(err), tt.want)
		}
	}
	if got := w.store.needs[p.Key]; got.Text != "Snakk tydelig" {
		t.Errorf("a rejected change was stored: %+v", got)
	}
	if n, err := w.svc.SetCommunicationNeeds(ctx, sub, profile.CommunicationNeeds{Text: "  "}); err != nil || !n.Empty() {
		t.Fatalf("clear: got %+v %v", n, err)
	}
	if _, ok := w.store.needs[p.Key]; ok {
		t.Error("needs with nothing in them were stored, want them removed")
	}
}

func TestLogins(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	ctx := context.Background()
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name    string
		in      profile.NewLogin
		wantExp time.Time
		wantErr string
	}{
		{"default lifetime", profile.NewLogin{Client: "Firefox on Windows", Method: profile.MethodBankID}, now.Add(profile.DefaultLoginLifetime), ""},
		{"own expiry, to the second", profile.NewLogin{Client: "Helsenorge app", Method: profile.MethodMinID, ExpiresAt: at(30*24*time.Hour + 1500*time.Millisecond)}, now.Add(30*24*time.Hour + time.Second), ""},
		{"expired already", profile.NewLogin{Client: "x app", Method: profile.MethodBankID, ExpiresAt: at(-time.Second)}, time.Time{}, "invalid_expiry"},
		{"over 90 days", profile.NewLogin{Client: "x app", Method: profile.MethodBankID, ExpiresAt: at(profile.MaxLoginLifetime + time.Second)}, time.Time{}, "invalid_expiry"},
		{"unknown method", profile.NewLogin{Client: "x app", Method: "password"}, time.Time{}, "unknown_login_method"},
		{"no client", profile.NewLogin{Method: profile.MethodBankID}, time.Time{}, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := w.svc.RecordLogin(ctx, sub, tt.in)
			if reason(err) != tt.wantErr || !l.ExpiresAt.Equal(tt.wantExp) {
				t.Errorf("got expiry %v %q, want %v %q", l.ExpiresAt, reason(err), tt.wantExp, tt.wantErr)
			}
		})
	}
	// An expired login the TTL has not removed yet is not listed; the
	// newest comes first.
	old := fmt.Sprintf("%032x", 1000)
	newest := fmt.Sprintf("%032x", 1001)
	w.store.logins[p.Key][old] = profile.Login{ID: old, CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	w.store.logins[p.Key][newest] = profile.Login{ID: newest, CreatedAt: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
	ls, err := w.svc.Logins(ctx, sub)
	if err != nil || len(ls) != 3 || ls[0].ID != newest || slices.ContainsFunc(ls, func(l profile.Login) bool { return l.ID == old }) {
		t.Errorf("logins: got %+v %v, want the three active ones, newest first", ls, err)
	}
	if err := w.svc.RevokeLogin(ctx, sub, newest); err != nil {
		t.Errorf("revoke: %v", err)
	}
	for _, id := range []string{newest, strings.Repeat("f", 32), "old", ""} {
		if err := w.svc.RevokeLogin(ctx, sub, id); reason(err) != "login_not_found" {
			t.Errorf("revoke %q: got %q, want login_not_found", id, reason(err))
		}
	}
}

func TestLoginLimit(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	for i := range profile.MaxLogins {
		if _, err := w.svc.RecordLogin(context.Background(), sub, profile.NewLogin{Client: "c", Method: profile.MethodBankID}); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	if _, err := w.svc.RecordLogin(context.Background(), sub, profile.NewLogin{Client: "c", Method: profile.MethodBankID}); reason(err) != "too_many_logins" {
		t.Errorf("got %q, want too_many_logins", reason(err))
	}
}

func TestAppPermissions(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	ctx := context.Background()
	first, created, err := w.svc.GrantApp(ctx, sub, profile.NewAppPermission{ClientID: "no.example.app", Name: "Min app", Scopes: []string{"b:read", "a:read", "b:read"}})
	if err != nil || !created || fmt.Sprint(first.Scopes) != "[a:read b:read]" || !profile.ValidID(first.ID) {
		t.Fatalf("grant: got %+v created=%v %v", first, created, err)
	}
	again, created, err := w.svc.GrantApp(ctx, sub, profile.NewAppPermission{ClientID: "no.example.app", Name: "Min app", Scopes: []string{"a:read"}})
	if err != nil || created || again.ID != first.ID {
		t.Errorf("granting the same app again: got id %s created=%v %v, want the same id, replaced", again.ID, created, err)
	}
	if _, _, err := w.svc.GrantApp(ctx, sub, profile.NewAppPermission{ClientID: "Åpp", Name: "x", Scopes: []string{"a"}}); reason(err) != "invalid_client_id" {
		t.Errorf("bad client id: got %q", reason(err))
	}
	if _, _, err := w.svc.GrantApp(ctx, sub, profile.NewAppPermission{ClientID: "b", Name: "Zeta", Scopes: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	ps, _ := w.svc.AppPermissions(ctx, sub)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"Min app", "Zeta"}) {
		t.Errorf("listed %v, want [Min app Zeta] (by name)", names)
	}
	if err := w.svc.RevokeApp(ctx, sub, first.ID); err != nil {
		t.Errorf("revoke: %v", err)
	}
	if err := w.svc.RevokeApp(ctx, sub, first.ID); reason(err) != "app_permission_not_found" {
		t.Errorf("revoke twice: got %q", reason(err))
	}
}

func TestAppPermissionLimit(t *testing.T) {
	p := person(t, adult, "k")
	w := newWorld(p)
	sub := w.open(t, p)
	grant := func(client string) error {
		_, _, err := w.svc.GrantApp(context.Background(), sub, profile.NewAppPermission{ClientID: client, Name: "App", Scopes: []string{"read"}})
		return err
	}
	for i := range profile.MaxAppPermissions {
		if err := grant(fmt.Sprint("app", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := grant("one-more"); reason(err) != "too_many_app_permissions" {
		t.Errorf("one more app: got %q, want too_many_app_permissions", reason(err))
	}
	if err := grant("app7"); err != nil {
		t.Errorf("re-granting an app already there at the limit: %v", err)
	}
}
