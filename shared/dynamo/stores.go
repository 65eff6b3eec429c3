package dynamo

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// One store per aggregate, all on the same table. Each implements the
// domain's consumer-side interfaces for its items and nothing else.
type (
	// AccessStore reads what an access decision needs in one round trip.
	AccessStore struct{ *Table }
	// UsageStore keeps the usage log (USAGE#).
	UsageStore struct{ *Table }
	// ConsentStore keeps consent state, history and deletion receipts.
	ConsentStore struct{ *Table }
	// Eraser deletes a person's data under a receipt.
	Eraser struct{ *Table }
	// GrantStore keeps powers of attorney (POA#GIVEN#, POA#RECEIVED#).
	GrantStore struct{ *Table }
	// RelationStore keeps parental and foster relations (PARENT#, CHILD#).
	RelationStore struct{ *Table }
	// SettingsStore keeps privacy settings and their change records.
	SettingsStore struct{ *Table }
	// ProfileStore keeps the profile items (PROFILE#) other than logins and
	// app permissions, and reads the whole profile.
	ProfileStore struct{ *Table }
	// LoginStore keeps active logins (PROFILE#LOGIN#).
	LoginStore struct{ *Table }
	// AppStore keeps app permissions (PROFILE#APP#).
	AppStore struct{ *Table }
	// DeathStore keeps death markers and annulments (DECEASED, ANNULLED#).
	DeathStore struct{ *Table }
	// DeathNoticeStore reads and writes everything one death notice
	// touches (ledger, annulment, consent, marker, job, grants) at once.
	DeathNoticeStore struct{ *Table }
	// JobStore keeps delayed deletion jobs (JOB#).
	JobStore struct{ *Table }
	// NoticeLedger remembers processed register notices (NOTICE#).
	NoticeLedger struct{ *Table }
	// Mover moves a person's items to a new person key.
	Mover struct{ *Table }
	// FormStore keeps paper-form records (FORM#).
	FormStore struct{ *Table }
	// AgeJobStore is what the daily age-transition job reads and writes.
	AgeJobStore struct{ *Table }
)

// SectorStore (sector.go) keeps health personnel's access settings and
// research and registry choices (SECTORSETTINGS, OPTOUT#SECTOR#).

// Stores are all the stores on one table.
type Stores struct {
	Table        *Table
	Access       AccessStore
	Usage        UsageStore
	Consent      ConsentStore
	Eraser       Eraser
	Grants       GrantStore
	Relations    RelationStore
	Settings     SettingsStore
	Profile      ProfileStore
	Logins       LoginStore
	Apps         AppStore
	Deaths       DeathStore
	DeathNotices DeathNoticeStore
	Jobs         JobStore
	Ledger       NoticeLedger
	Mover        Mover
	IDs          IDHistoryStore
	Forms        FormStore
	AgeJob       AgeJobStore
	Sector       SectorStore
}

// NewStores returns every store on table, sharing one handle.
func NewStores(db DB, table string, now func() time.Time) *Stores {
	return StoresOn(NewTable(db, table, now))
}

// StoresOn returns every store on an existing table handle (tests use it to
// tune the handle, e.g. PageLimit).
func StoresOn(t *Table) *Stores {
	return &Stores{
		Table: t, Access: AccessStore{t}, Usage: UsageStore{t}, Consent: ConsentStore{t}, Eraser: Eraser{t},
		Grants: GrantStore{t}, Relations: RelationStore{t}, Settings: SettingsStore{t}, Profile: ProfileStore{t}, Logins: LoginStore{t}, Apps: AppStore{t},
		Deaths: DeathStore{t}, DeathNotices: DeathNoticeStore{t}, Jobs: JobStore{t}, Ledger: NoticeLedger{t}, Mover: Mover{t}, IDs: IDHistoryStore{t}, Forms: FormStore{t},
		AgeJob: AgeJobStore{t}, Sector: SectorStore{t},
	}
}

// Open returns every store on table through a DynamoDB client built from
// cfg, so that callers need not import the DynamoDB client themselves.
func Open(cfg aws.Config, table string, now func() time.Time) *Stores {
	return NewStores(dynamodb.NewFromConfig(cfg), table, now)
}
