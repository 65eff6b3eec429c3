// Package dynamo stores the privacy core's records in one DynamoDB table.
//
// Every item about a person lives in the person's partition, pk = "P#" +
// person key (an HMAC of the person id, never the id). The sort key starts
// with the item's kind:
//
//	CONSENT                       current consent state (kept on withdrawal)
//	CONSENTLOG#<time>#<id>        consent history (kept on withdrawal)
//	OPTOUT#<setting>#<time>#<id>  privacy-setting changes (kept on withdrawal)
//	SETTINGS                      current privacy settings (kept on withdrawal: they are opt-outs)
//	SECTORSETTINGS                health personnel's access, research and registry choices (kept
//	                              on withdrawal: opt-outs); their history is OPTOUT#SECTOR#<time>#<n>#<id>
//	SCR#g<generation>#...         summary care record content (purged 30 days after an opt-out)
//	RECEIPT#<id>                  deletion receipts (always kept)
//	DECEASED                      death registered: status, job (always kept; no health data)
//	ANNULLED#<death notice id>    an annulment that arrived before its death notice
//	PARENT#<key>, CHILD#<key>     parental responsibility from the register, one item per side
//	                              (kept on withdrawal: register facts, not portal data)
//	POA#GIVEN#<id>, POA#RECEIVED#<id>  powers of attorney, one item per side
//	PROFILE#<kind>[#<id>]         profile settings: notification channel, next of kin (one
//	                              item), employer, communication needs, logins, app permissions
//	anything else                 the person's data, deleted on withdrawal
//
// An item that has a twin in another partition (both sides of a relation)
// names it in mirrorPk/mirrorSk; erasing one side erases the twin.
//
// Other partitions: JOB#<id> (delayed deletion jobs; pending ones carry
// dueBucket/dueAt and so appear in the sparse ByDue index, which the sweeper
// queries), NOTICE#<id> (processed register notices, expiring by TTL).
//
// The stores (stores.go) are one small type per aggregate, all on one Table
// handle; each implements its domain package's consumer-side interfaces and
// returns domain types and sentinel errors (poa.ErrGrantNotFound, ...), never
// text for a client. In shared/ and functions/ it is the only package that
// imports the DynamoDB client or the SDK's DynamoDB helpers
// (shared/layers_test.go checks it); infra/ imports them too, to provision
// tables for local runs and tests, and adapter tests may to seed items.
package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
)

// DB is the part of the DynamoDB client the store uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Table is the one DynamoDB table every store shares: the client, the
// table's name and the clock. The stores below each hold the same *Table and
// differ only in which items (key schema above) they read and write.
type Table struct {
	DB   DB
	Name string
	Now  func() time.Time
	// Sleep waits between retries of unprocessed batch items; tests may stub it.
	Sleep func(ctx context.Context, d time.Duration) error
	// PageLimit caps the items per Query page when erasing (0: ErasePage).
	// Tests use it to cross page boundaries with little data.
	PageLimit int32
	// Parallel is how many BatchWriteItem calls an erase keeps in flight
	// (0: DefaultEraseParallelism; ERASE_PARALLELISM in the template).
	Parallel int
}

// NewTable returns the table handle the stores share.
func NewTable(db DB, name string, now func() time.Time) *Table {
	return &Table{DB: db, Name: name, Now: now, Sleep: sleep}
}

// Sort-key prefixes of the item kinds.
const (
	skConsent       = "CONSENT"
	skConsentLog    = "CONSENTLOG#"
	skOptOut        = "OPTOUT#"
	skReceipt       = "RECEIPT#"
	skGrantGiven    = "POA#GIVEN#"
	skGrantReceived = "POA#RECEIVED#"
	skGrants        = "POA#"
	skDeceased      = "DECEASED"
	skAnnulled      = "ANNULLED#"
	skParent        = "PARENT#"
	skChild         = "CHILD#"
)

// PersonPK returns the partition key of a person.
func PersonPK(k personkey.Key) string { return "P#" + string(k) }

// keeps reports whether an erase in scope keeps the item with sort key sk.
func keeps(sk string, scope consent.Scope) bool {
	if strings.HasPrefix(sk, skReceipt) || sk == skDeceased {
		return true
	}
	if isSCR, deletes := scrScope(sk, scope); isSCR {
		return !deletes
	}
	if scope == consent.ScopeEverything {
		return false
	}
	return sk == skConsent || sk == skSettings || sk == skSector || strings.HasPrefix(sk, skConsentLog) || strings.HasPrefix(sk, skOptOut) ||
		strings.HasPrefix(sk, skParent) || strings.HasPrefix(sk, skChild) || strings.HasPrefix(sk, skAnnulled)
}

// kindOf names an item's kind for deletion receipts: the lower-cased first
// segment of its sort key ("USAGE#..." is "usage", "POA#GIVEN#..." is "poa").
func kindOf(sk string) string {
	head, _, _ := strings.Cut(sk, "#")
	return strings.ToLower(head)
}

// atVersion is the condition of an optimistic write: the item is still at
// version expect, or (expect 0) does not exist yet.
func atVersion(expect int64) (cond *string, names map[string]string, vals map[string]types.AttributeValue) {
	if expect == 0 {
		return aws.String("attribute_not_exists(pk)"), nil, nil
	}
	return aws.String("#v = :v"), map[string]string{"#v": "version"},
		map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(expect, 10)}}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
