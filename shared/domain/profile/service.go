package profile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Errors a Store returns.
var (
	// ErrVersionConflict: the next of kin changed since the expected version was read.
	ErrVersionConflict = errors.New("profile: version conflict")
	// ErrNotFound: the item to delete does not exist.
	ErrNotFound = errors.New("profile: not found")
)

// Store persists profiles. Every item lives in the person's own partition.
type Store interface {
	// Profile returns everything stored, in one read.
	Profile(ctx context.Context, key personkey.Key) (Snapshot, error)
	SetNotificationChannel(ctx context.Context, key personkey.Key, c Channel, at time.Time) error
	// NextOfKin returns the aggregate; Version 0 if there never was one.
	NextOfKin(ctx context.Context, key personkey.Key) (Kin, error)
	// SaveNextOfKin writes next only if the stored version is still expect
	// (0: none may exist yet), else returns ErrVersionConflict.
	SaveNextOfKin(ctx context.Context, key personkey.Key, next Kin, expect int64) error
	SetEmployer(ctx context.Context, key personkey.Key, e Employer) error
	DeleteEmployer(ctx context.Context, key personkey.Key) error
	SetCommunicationNeeds(ctx context.Context, key personkey.Key, n CommunicationNeeds) error
	DeleteCommunicationNeeds(ctx context.Context, key personkey.Key) error
}

// LoginStore persists a person's active logins.
type LoginStore interface {
	AddLogin(ctx context.Context, key personkey.Key, l Login) error
	Logins(ctx context.Context, key personkey.Key) ([]Login, error)
	// DeleteLogin returns ErrNotFound if there is no such login.
	DeleteLogin(ctx context.Context, key personkey.Key, id string) error
}

// AppStore persists the permissions a person gave apps.
type AppStore interface {
	// PutAppPermission creates or replaces the permission with p.ID.
	PutAppPermission(ctx context.Context, key personkey.Key, p AppPermission) (created bool, err error)
	AppPermissions(ctx context.Context, key personkey.Key) ([]AppPermission, error)
	// DeleteAppPermission returns ErrNotFound if there is no such permission.
	DeleteAppPermission(ctx context.Context, key personkey.Key, id string) error
}

// Consents tells whether a person has consented.
type Consents interface {
	Consent(ctx context.Context, key personkey.Key) (consent.State, error)
}

// Parents gives the notification channels of a child's parents: one entry
// ("" when never set) per parent whose parental responsibility is
// registered on both sides. Foster parents are not among them.
type Parents interface {
	ParentChannels(ctx context.Context, child personkey.Key) ([]Channel, error)
}

// ContactRegister looks up contact details (Kontakt- og
// reservasjonsregisteret). It needs the person id, never the key.
type ContactRegister interface {
	Contact(ctx context.Context, id nin.ID) (ContactDetails, error)
}

// Service applies the profile rules.
type Service struct {
	Store      Store
	LoginStore LoginStore
	AppStore   AppStore
	Consents   Consents
	Parents    Parents
	Contacts   ContactRegister
	Now        func() time.Time
	NewID      func() string
	// Records, if set, refuses everyone the access rules bar from all
	// logged-in services (access.Person.Barred), whatever their consent says.
	Records access.RecordsReader
}

// Open returns the subject of a request if the person may use profile
// settings now: they are part of the Basic consent level, so any active
// consent will do. This is the one place that rule is checked.
func (s *Service) Open(ctx context.Context, p Person) (Subject, error) {
	st, err := s.Consents.Consent(ctx, p.Key)
	if err != nil {
		return Subject{}, fmt.Errorf("read consent: %w", err)
	}
	if st.Status != consent.StatusActive || !st.Level.Includes(consent.Basic) {
		return Subject{}, domain.Errorf(domain.EForbidden, "consent_required", "Profile settings need your consent to use Helsenorge. Give consent first.")
	}
	if s.Records != nil {
		recs, err := s.Records.AccessRecords(ctx, p.Key, p.Key)
		if err != nil {
			return Subject{}, fmt.Errorf("check access: %w", err)
		}
		if bar := recs.Subject.Barred(); bar != access.Allowed {
			return Subject{}, domain.Errorf(domain.EForbidden, string(bar), "Logged-in services are closed for this person.")
		}
	}
	return Subject{p: p}, nil
}

// Get returns the whole profile with the contact details from the contact
// register. If the register fails, the rest is still returned, with
// Contact nil and the register's error as contactErr.
func (s *Service) Get(ctx context.Context, sub Subject) (v View, contactErr error, err error) {
	snap, err := s.Store.Profile(ctx, sub.p.Key)
	if err != nil {
		return View{}, nil, fmt.Errorf("read profile: %w", err)
	}
	n, err := s.notification(ctx, sub.p, snap.Channel)
	if err != nil {
		return View{}, nil, err
	}
	v = View{
		Notification: n, Kin: snap.Kin, Employer: snap.Employer, CommunicationNeeds: snap.CommunicationNeeds,
		Logins: s.active(snap.Logins), AppPermissions: byName(snap.AppPermissions),
	}
	c, contactErr := s.Contacts.Contact(ctx, sub.p.ID)
	if contactErr == nil {
		v.Contact = &c
	}
	return v, contactErr, nil
}

// notification applies the channel rules: SMS unless the person chose
// otherwise; for a child under ChildAge with registered parents, every
// notification about the child goes to the parents, each by their own
// channel.
func (s *Service) notification(ctx context.Context, p Person, own Channel) (Notification, error) {
	n := Notification{Channel: orSMS(own), Source: SourceSelf}
	n.Effective = []Channel{n.Channel}
	if clock.Age(p.ID.BirthDate(), s.Now()) >= ChildAge {
		return n, nil
	}
	chs, err := s.Parents.ParentChannels(ctx, p.Key)
	if err != nil {
		return Notification{}, fmt.Errorf("read parents' channels: %w", err)
	}
	if len(chs) == 0 {
		return n, nil
	}
	n.Effective, n.Source = nil, SourceParents
	for _, c := range chs {
		if c = orSMS(c); !slices.Contains(n.Effective, c) {
			n.Effective = append(n.Effective, c)
		}
	}
	slices.Sort(n.Effective)
	return n, nil
}

func orSMS(c Channel) Channel {
	if c == "" {
		return ChannelSMS
	}
	return c
}

// SetNotificationChannel sets the person's channel. Setting it again is a no-op in effect.
func (s *Service) SetNotificationChannel(ctx context.Context, sub Subject, c Channel) error {
	if !c.Valid() {
		return invalid("unknown_channel", "The channel must be sms or email.")
	}
	if err := s.Store.SetNotificationChannel(ctx, sub.p.Key, c, s.Now().UTC()); err != nil {
		return fmt.Errorf("write notification channel: %w", err)
	}
	return nil
}

// NextOfKin returns the person's next of kin.
func (s *Service) NextOfKin(ctx context.Context, sub Subject) (Kin, error) {
	k, err := s.Store.NextOfKin(ctx, sub.p.Key)
	if err != nil {
		return Kin{}, fmt.Errorf("read next of kin: %w", err)
	}
	return k, nil
}

// AddNextOfKin adds a next of kin, as the closest if asked (or if it is the
// first). ifMatch, when set, is the version the caller last saw.
func (s *Service) AddNextOfKin(ctx context.Context, sub Subject, n NewKin, ifMatch *int64) (NextOfKin, Kin, error) {
	n, err := n.normalize()
	if err != nil {
		return NextOfKin{}, Kin{}, err
	}
	item := NextOfKin{ID: s.NewID(), Name: n.Name, Phone: n.Phone, Email: n.Email, Relation: n.Relation, AddedAt: s.Now().UTC()}
	k, err := s.changeKin(ctx, sub, ifMatch, func(cur Kin) (Kin, error) { return cur.add(item, n.Closest) })
	return item, k, err
}

// RemoveNextOfKin removes a next of kin; the closest only if it is the last.
func (s *Service) RemoveNextOfKin(ctx context.Context, sub Subject, id string, ifMatch *int64) (Kin, error) {
	if !ValidID(id) {
		return Kin{}, kinNotFound()
	}
	return s.changeKin(ctx, sub, ifMatch, func(cur Kin) (Kin, error) { return cur.remove(id) })
}

// SetClosest makes a next of kin the closest, in one change. Making the
// closest the closest again is a no-op, so a retried request has one effect.
func (s *Service) SetClosest(ctx context.Context, sub Subject, id string, ifMatch *int64) (Kin, error) {
	if !ValidID(id) {
		return Kin{}, kinNotFound()
	}
	return s.changeKin(ctx, sub, ifMatch, func(cur Kin) (Kin, error) {
		if cur.Closest == id {
			return cur, errUnchanged
		}
		return cur.withClosest(id)
	})
}

var errUnchanged = errors.New("unchanged")

// changeKin reads the aggregate, applies change and writes the result on
// the condition that nobody else wrote in between. Of two concurrent
// changes exactly one wins; the other gets concurrent_update (or
// version_mismatch when it sent If-Match) and changes nothing.
func (s *Service) changeKin(ctx context.Context, sub Subject, ifMatch *int64, change func(Kin) (Kin, error)) (Kin, error) {
	cur, err := s.Store.NextOfKin(ctx, sub.p.Key)
	if err != nil {
		return Kin{}, fmt.Errorf("read next of kin: %w", err)
	}
	if ifMatch != nil && *ifMatch != cur.Version {
		return Kin{}, kinConflict(true)
	}
	next, err := change(cur)
	if errors.Is(err, errUnchanged) {
		return cur, nil
	}
	if err != nil {
		return Kin{}, err
	}
	next.Version, next.UpdatedAt = cur.Version+1, s.Now().UTC()
	if err := s.Store.SaveNextOfKin(ctx, sub.p.Key, next, cur.Version); err != nil {
		if errors.Is(err, ErrVersionConflict) {
			return Kin{}, kinConflict(ifMatch != nil)
		}
		return Kin{}, fmt.Errorf("write next of kin: %w", err)
	}
	return next, nil
}

func kinConflict(hadIfMatch bool) error {
	if hadIfMatch {
		return domain.Errorf(domain.EPreconditionFailed, "version_mismatch", "Your next of kin have changed since you read them. Read them again and retry.")
	}
	return domain.Errorf(domain.EConflict, "concurrent_update", "Your next of kin were changed by another request at the same time. Read them again and retry.")
}

// SetEmployer sets the person's employer.
func (s *Service) SetEmployer(ctx context.Context, sub Subject, e Employer) (Employer, error) {
	var err error
	if e.Name, err = Name(e.Name, MaxNameLen, "invalid_name", "The employer's name must be 1 to 100 printable characters, with at least one letter."); err != nil {
		return Employer{}, err
	}
	if e.OrganisationNumber != "" {
		if e.OrganisationNumber, err = OrganisationNumber(e.OrganisationNumber); err != nil {
			return Employer{}, err
		}
	}
	if e.Phone != "" {
		if e.Phone, err = Phone(e.Phone); err != nil {
			return Employer{}, err
		}
	}
	if e.Email, err = OptionalEmail(e.Email); err != nil {
		return Employer{}, err
	}
	e.UpdatedAt = s.Now().UTC()
	if err := s.Store.SetEmployer(ctx, sub.p.Key, e); err != nil {
		return Employer{}, fmt.Errorf("write employer: %w", err)
	}
	return e, nil
}

// RemoveEmployer removes the employer; removing none is not an error.
func (s *Service) RemoveEmployer(ctx context.Context, sub Subject) error {
	if err := s.Store.DeleteEmployer(ctx, sub.p.Key); err != nil {
		return fmt.Errorf("delete employer: %w", err)
	}
	return nil
}

// SetCommunicationNeeds replaces the person's communication needs; needs
// with nothing in them are removed rather than stored.
func (s *Service) SetCommunicationNeeds(ctx context.Context, sub Subject, n CommunicationNeeds) (CommunicationNeeds, error) {
	var err error
	if n.Text, err = Text(n.Text); err != nil {
		return CommunicationNeeds{}, err
	}
	if err := Language(n.InterpreterLanguage); err != nil {
		return CommunicationNeeds{}, err
	}
	if n.Empty() {
		if err := s.Store.DeleteCommunicationNeeds(ctx, sub.p.Key); err != nil {
			return CommunicationNeeds{}, fmt.Errorf("delete communication needs: %w", err)
		}
		return CommunicationNeeds{}, nil
	}
	n.UpdatedAt = s.Now().UTC()
	if err := s.Store.SetCommunicationNeeds(ctx, sub.p.Key, n); err != nil {
		return CommunicationNeeds{}, fmt.Errorf("write communication needs: %w", err)
	}
	return n, nil
}

// NewLogin is a login the portal records for the person who just logged in.
type NewLogin struct {
	Client string
	Method LoginMethod
	// ExpiresAt is when the login ends; nil means DefaultLoginLifetime.
	ExpiresAt *time.Time
}

// RecordLogin records an active login.
func (s *Service) RecordLogin(ctx context.Context, sub Subject, n NewLogin) (Login, error) {
	client, err := Name(n.Client, MaxClientLen, "invalid_client", "The client must be 1 to 100 printable characters, with at least one letter.")
	if err != nil {
		return Login{}, err
	}
	if !n.Method.Valid() {
		return Login{}, invalid("unknown_login_method", "The method must be one of bankid, buypass, commfides or minid.")
	}
	// Expiry is kept to the second (the table's TTL attribute is epoch seconds).
	now := s.Now().UTC()
	exp := now.Add(DefaultLoginLifetime).Truncate(time.Second)
	if n.ExpiresAt != nil {
		exp = n.ExpiresAt.UTC().Truncate(time.Second)
		if !exp.After(now) || exp.After(now.Add(MaxLoginLifetime)) {
			return Login{}, invalid("invalid_expiry", "expiresAt must be in the future and at most 90 days ahead.")
		}
	}
	cur, err := s.Logins(ctx, sub)
	if err != nil {
		return Login{}, err
	}
	if len(cur) >= MaxLogins {
		return Login{}, domain.Errorf(domain.EConflict, "too_many_logins", "There are too many active logins. Revoke some first.")
	}
	l := Login{ID: s.NewID(), Client: client, Method: n.Method, CreatedAt: now, ExpiresAt: exp}
	if err := s.LoginStore.AddLogin(ctx, sub.p.Key, l); err != nil {
		return Login{}, fmt.Errorf("write login: %w", err)
	}
	return l, nil
}

// Logins lists the active logins, newest first.
func (s *Service) Logins(ctx context.Context, sub Subject) ([]Login, error) {
	ls, err := s.LoginStore.Logins(ctx, sub.p.Key)
	if err != nil {
		return nil, fmt.Errorf("read logins: %w", err)
	}
	return s.active(ls), nil
}

// active drops expired logins (the table's TTL removes them only
// eventually) and orders the rest newest first.
func (s *Service) active(ls []Login) []Login {
	now := s.Now()
	out := slices.DeleteFunc(slices.Clone(ls), func(l Login) bool { return !l.ExpiresAt.After(now) })
	slices.SortFunc(out, func(a, b Login) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out
}

// RevokeLogin ends an active login.
func (s *Service) RevokeLogin(ctx context.Context, sub Subject, id string) error {
	notFound := domain.Errorf(domain.ENotFound, "login_not_found", "You have no active login with this id.")
	if !ValidID(id) {
		return notFound
	}
	err := s.LoginStore.DeleteLogin(ctx, sub.p.Key, id)
	if errors.Is(err, ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("delete login: %w", err)
	}
	return nil
}

// NewAppPermission lets an external app exchange data with the person.
type NewAppPermission struct {
	ClientID string
	Name     string
	Scopes   []string
}

// AppPermissionID is the id of an app's permission: derived from its client
// id, so granting the same app again replaces its permission instead of
// adding a second one.
func AppPermissionID(clientID string) string {
	sum := sha256.Sum256([]byte("app-permission\x00" + clientID))
	return hex.EncodeToString(sum[:16])
}

// GrantApp records (or replaces) an external app's permission.
func (s *Service) GrantApp(ctx context.Context, sub Subject, n NewAppPermission) (p AppPermission, created bool, err error) {
	if err := ClientID(n.ClientID); err != nil {
		return AppPermission{}, false, err
	}
	name, err := Name(n.Name, MaxNameLen, "invalid_name", "The app's name must be 1 to 100 printable characters, with at least one letter.")
	if err != nil {
		return AppPermission{}, false, err
	}
	scopes, err := Scopes(n.Scopes)
	if err != nil {
		return AppPermission{}, false, err
	}
	p = AppPermission{ID: AppPermissionID(n.ClientID), ClientID: n.ClientID, Name: name, Scopes: scopes, GrantedAt: s.Now().UTC()}
	cur, err := s.AppPermissions(ctx, sub)
	if err != nil {
		return AppPermission{}, false, err
	}
	if len(cur) >= MaxAppPermissions && !slices.ContainsFunc(cur, func(c AppPermission) bool { return c.ID == p.ID }) {
		return AppPermission{}, false, domain.Errorf(domain.EConflict, "too_many_app_permissions", "You have given too many apps permission. Revoke some first.")
	}
	created, err = s.AppStore.PutAppPermission(ctx, sub.p.Key, p)
	if err != nil {
		return AppPermission{}, false, fmt.Errorf("write app permission: %w", err)
	}
	return p, created, nil
}

// AppPermissions lists the apps the person let in, by name.
func (s *Service) AppPermissions(ctx context.Context, sub Subject) ([]AppPermission, error) {
	ps, err := s.AppStore.AppPermissions(ctx, sub.p.Key)
	if err != nil {
		return nil, fmt.Errorf("read app permissions: %w", err)
	}
	return byName(ps), nil
}

func byName(ps []AppPermission) []AppPermission {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b AppPermission) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// RevokeApp withdraws an app's permission.
func (s *Service) RevokeApp(ctx context.Context, sub Subject, id string) error {
	notFound := domain.Errorf(domain.ENotFound, "app_permission_not_found", "You have given no app permission with this id.")
	if !ValidID(id) {
		return notFound
	}
	err := s.AppStore.DeleteAppPermission(ctx, sub.p.Key, id)
	if errors.Is(err, ErrNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("delete app permission: %w", err)
	}
	return nil
}
