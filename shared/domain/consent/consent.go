// Package consent holds the consent rules: the three levels, the separate
// patient-travel consent, history, and withdrawal with its deletion receipt.
// It knows nothing about HTTP or DynamoDB; adapters satisfy its interfaces.
package consent

import (
	"time"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Level is a consent level. The order matters: each level includes the ones below.
type Level string

// The consent levels (Basis, Basis+, Full tilgang).
const (
	Basic     Level = "basic"
	BasicPlus Level = "basic_plus"
	Full      Level = "full"
)

// rank orders the levels; an unknown level has rank 0.
var rank = map[Level]int{Basic: 1, BasicPlus: 2, Full: 3}

// Valid reports whether l is one of the three levels.
func (l Level) Valid() bool { return rank[l] > 0 }

// Includes reports whether consent at level l covers a service that needs need.
func (l Level) Includes(need Level) bool { return rank[l] > 0 && rank[l] >= rank[need] }

// Status is where a person stands.
type Status string

// The consent statuses.
const (
	StatusNone      Status = "none"
	StatusActive    Status = "active"
	StatusWithdrawn Status = "withdrawn"
)

// Channel is how a consent change reached us.
type Channel string

// The channels a consent change can come from.
const (
	ChannelPortal   Channel = "portal"
	ChannelPaper    Channel = "paper_form"
	ChannelRegistry Channel = "registry"
)

// Action is what a history event did.
type Action string

// The actions recorded in the consent history.
const (
	ActionGive     Action = "give"
	ActionChange   Action = "change"
	ActionWithdraw Action = "withdraw"
)

// State is a person's current consent. Version increases by one with every
// change and is the optimistic-concurrency token (the HTTP ETag).
type State struct {
	Status        Status
	Level         Level
	PatientTravel bool
	Version       int64
	UpdatedAt     time.Time
	Channel       Channel
	// WithdrawalID names the deletion receipt of the latest withdrawal.
	WithdrawalID string
}

// Event is one entry in the consent history.
type Event struct {
	ID            string
	At            time.Time
	Action        Action
	Level         Level // empty for a withdrawal
	PatientTravel bool
	Channel       Channel
	Version       int64
	// FormID is the paper form that caused the event (channel paper_form).
	FormID string
	// Operator keyed in that form. Stored for accountability; operators'
	// eyes only, never in the citizen's history.
	Operator string
}

// Reason says why a person's data was deleted.
type Reason string

// The deletion reasons.
const (
	ReasonWithdrawal Reason = "consent_withdrawn"
	ReasonDeath      Reason = "death"
	// ReasonSCROptOut: the summary care record content of an opt-out that
	// was not restored within 30 days.
	ReasonSCROptOut Reason = "scr_opt_out"
)

// ReceiptStatus says whether a deletion has finished.
type ReceiptStatus string

// The states of a deletion.
const (
	ReceiptDeleting ReceiptStatus = "deleting"
	ReceiptDone     ReceiptStatus = "done"
)

// Receipt records that a person's data was deleted: when, why and how many
// items of each kind. It holds no health data.
type Receipt struct {
	ID          string
	Reason      Reason
	Status      ReceiptStatus
	StartedAt   time.Time
	CompletedAt time.Time
	Deleted     map[string]int
	// Next, while Status is ReceiptDeleting after an erase slice, is where
	// the next slice starts (an opaque cursor: everything before it is
	// erased). It is never shown to the person.
	Next string
}

// Person is whom a request is about, by pseudonymous key only.
type Person struct {
	Key personkey.Key
	// ID is the person's national id, for the population register look-up
	// when consent is given; zero where no look-up is wanted.
	ID nin.ID
}
