// Package profile holds a person's profile settings on the portal: how they
// are notified, their next of kin (exactly one of them closest), employer,
// communication needs, active logins and the external apps they let in. It
// knows nothing about HTTP or DynamoDB; adapters satisfy its interfaces.
//
// Contact details (phone, e-mail) are not profile data: they come from the
// contact register on every read and are never stored.
package profile

import (
	"time"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Limits. They bound what one person can store and what a client can send.
const (
	MaxNextOfKin      = 10
	MaxNameLen        = 100 // runes, names of people, employers and apps
	MaxTextLen        = 500 // runes, the free-text communication need
	MaxClientLen      = 100 // runes, a login's client description
	MaxLogins         = 100 // active logins
	MaxAppPermissions = 50
	MaxScopes         = 20
	// ChildAge is the age below which a parent's notification channel
	// applies to the child.
	ChildAge = 16
)

// Login lifetimes: a recorded login is active until it expires (DynamoDB's
// TTL removes it later; reads ignore expired ones at once).
const (
	DefaultLoginLifetime = 12 * time.Hour
	MaxLoginLifetime     = 90 * 24 * time.Hour
)

// Channel is how the portal notifies a person.
type Channel string

// The notification channels. SMS is the default.
const (
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == ChannelSMS || c == ChannelEmail }

// Relation is how a next of kin is related to the person.
type Relation string

// The relations a next of kin can have.
const (
	RelationSpouse  Relation = "spouse"
	RelationPartner Relation = "partner"
	RelationParent  Relation = "parent"
	RelationChild   Relation = "child"
	RelationSibling Relation = "sibling"
	RelationOther   Relation = "other"
)

// Valid reports whether r is a known relation.
func (r Relation) Valid() bool {
	switch r {
	case RelationSpouse, RelationPartner, RelationParent, RelationChild, RelationSibling, RelationOther:
		return true
	}
	return false
}

// NextOfKin is one next of kin. It deliberately has no person id: the
// person names them and says how to reach them, nothing more.
type NextOfKin struct {
	ID       string
	Name     string
	Phone    string // E.164, for example +4791234567
	Email    string // optional
	Relation Relation
	AddedAt  time.Time
}

// Kin is a person's next of kin as one aggregate, so that "exactly one is
// closest" is a property of one stored item. Version increases with every
// change and is the optimistic-concurrency token (the HTTP ETag).
type Kin struct {
	Items []NextOfKin
	// Closest is the ID of the closest next of kin; empty only when Items is.
	Closest   string
	Version   int64
	UpdatedAt time.Time
}

// Employer is the employer a person chooses to tell health personnel about.
type Employer struct {
	Name string
	// OrganisationNumber is the 9-digit number in the Brønnøysund registers; optional.
	OrganisationNumber string
	Phone              string
	Email              string
	UpdatedAt          time.Time
}

// CommunicationNeeds says how health personnel should communicate with the
// person. The zero value means no special needs.
type CommunicationNeeds struct {
	// Text is free text, at most MaxTextLen runes.
	Text string
	// InterpreterLanguage is the ISO 639-1 code of the language an
	// interpreter is needed for; empty if none.
	InterpreterLanguage string
	SignLanguage        bool // needs a sign-language interpreter
	PlainLanguage       bool // needs plain, simple language
	UpdatedAt           time.Time
}

// Empty reports whether n states no need at all.
func (n CommunicationNeeds) Empty() bool {
	return n.Text == "" && n.InterpreterLanguage == "" && !n.SignLanguage && !n.PlainLanguage
}

// LoginMethod is the electronic ID a person logged in with.
type LoginMethod string

// The electronic IDs of the national login.
const (
	MethodBankID    LoginMethod = "bankid"
	MethodBuypass   LoginMethod = "buypass"
	MethodCommfides LoginMethod = "commfides"
	MethodMinID     LoginMethod = "minid"
)

// Valid reports whether m is a known login method.
func (m LoginMethod) Valid() bool {
	switch m {
	case MethodBankID, MethodBuypass, MethodCommfides, MethodMinID:
		return true
	}
	return false
}

// Login is an active login the portal recorded. It holds no IP address and
// no raw user agent: only a short description the portal chose.
type Login struct {
	ID        string
	Client    string // for example "Firefox on Windows" or "Helsenorge app (iOS)"
	Method    LoginMethod
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AppPermission lets an external app exchange data with the person's
// Helsenorge user. There is one per app (client id).
type AppPermission struct {
	ID        string
	ClientID  string
	Name      string
	Scopes    []string
	GrantedAt time.Time
}

// ContactDetails come from the contact register (Kontakt- og
// reservasjonsregisteret); they are shown, never stored.
type ContactDetails struct {
	Phone string
	Email string
}

// Snapshot is everything stored in a person's profile.
type Snapshot struct {
	Channel            Channel // "" if never set
	Kin                Kin
	Employer           *Employer
	CommunicationNeeds *CommunicationNeeds
	Logins             []Login
	AppPermissions     []AppPermission
}

// Source says whose channel is used for notifications about a person.
type Source string

// The sources of the effective notification channel.
const (
	SourceSelf    Source = "self"
	SourceParents Source = "parents"
)

// Notification is a person's own channel and how notifications about them
// are actually sent: for a child under ChildAge with registered parents,
// each parent gets them by the parent's own channel.
type Notification struct {
	Channel   Channel
	Effective []Channel
	Source    Source
}

// View is the whole profile as the person sees it.
type View struct {
	Notification       Notification
	Contact            *ContactDetails // nil when the contact register did not answer
	Kin                Kin
	Employer           *Employer
	CommunicationNeeds *CommunicationNeeds
	Logins             []Login
	AppPermissions     []AppPermission
}

// Person is whom a request is about: the id (for the contact register and
// the person's age; never stored) and the pseudonymous key.
type Person struct {
	ID  nin.ID
	Key personkey.Key
}

// Subject is a person whose profile may be used now. Only Service.Open
// makes one, after checking consent, so no method can skip that check.
type Subject struct {
	p Person
}
