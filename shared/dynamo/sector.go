package dynamo

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/sectoraccess"
)

// Sort keys of the sector settings (health personnel's access, research
// and registry choices). Both are opt-out records: kept on withdrawal (see
// keeps), gone only with everything else 30 days after a death.
const (
	skSector        = "SECTORSETTINGS"
	skSectorHistory = skOptOut + "SECTOR#" // OPTOUT#SECTOR#<time>#<n>#<id>
)

// SectorStore keeps a person's sector settings and their history, and
// reads what a sector decision needs in one round trip.
type SectorStore struct{ *Table }

type sectorItem struct {
	PK         string            `dynamodbav:"pk"`
	SK         string            `dynamodbav:"sk"`
	RxLimited  []string          `dynamodbav:"rxLimited"`
	RxBlocked  []string          `dynamodbav:"rxBlocked"`
	RxOnlyGP   bool              `dynamodbav:"rxOnlyGP"`
	SCRLimited bool              `dynamodbav:"scrLimited"`
	SCRBlocked []string          `dynamodbav:"scrBlocked"`
	SCRApptOff bool              `dynamodbav:"scrAppointmentHistoryBlocked"`
	Research   map[string]bool   `dynamodbav:"research"`
	Since      map[string]string `dynamodbav:"since"`
	Version    int64             `dynamodbav:"version"`
	// UpdatedAt is the time of the last change (absent on items written
	// before it existed); a merge after an id change compares it.
	UpdatedAt string `dynamodbav:"updatedAt,omitempty"`
}

type sectorChangeItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	ID      string `dynamodbav:"id"`
	Setting string `dynamodbav:"setting"`
	Value   string `dynamodbav:"value"`
	By      string `dynamodbav:"by"`
	Channel string `dynamodbav:"channel"`
	At      string `dynamodbav:"at"`
}

// Sector implements sectoraccess.Store: the settings (all off if never set).
func (s SectorStore) Sector(ctx context.Context, key personkey.Key) (sectoraccess.State, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(PersonPK(key), skSector), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return sectoraccess.State{}, fmt.Errorf("get sector settings: %w", err)
	}
	return decodeSector(out.Item)
}

func decodeSector(item map[string]types.AttributeValue) (sectoraccess.State, error) {
	if item == nil {
		return sectoraccess.State{}, nil
	}
	var it sectorItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return sectoraccess.State{}, fmt.Errorf("decode sector settings: %w", err)
	}
	hprs := func(in []string) []sectoraccess.HPR {
		out := make([]sectoraccess.HPR, 0, len(in))
		for _, h := range in {
			out = append(out, sectoraccess.HPR(h))
		}
		return out
	}
	st := sectoraccess.State{
		Prescriptions: sectoraccess.Prescriptions{Limited: it.RxLimited, Blocked: hprs(it.RxBlocked), OnlyGP: it.RxOnlyGP},
		SCR:           sectoraccess.SCR{Limited: it.SCRLimited, Blocked: hprs(it.SCRBlocked), AppointmentHistoryBlocked: it.SCRApptOff},
		Version:       it.Version,
	}
	if len(it.Research) > 0 {
		st.Research = map[sectoraccess.Purpose]bool{}
		for p, v := range it.Research {
			st.Research[sectoraccess.Purpose(p)] = v
		}
	}
	if len(it.Since) > 0 {
		st.Since = map[sectoraccess.Setting]time.Time{}
		for k, v := range it.Since {
			st.Since[sectoraccess.Setting(k)] = parseTime(v)
		}
	}
	return st, nil
}

// SaveSector implements sectoraccess.Store: the new state, if the stored
// one is still at version Expect, and one history item per change, in one
// transaction.
func (s SectorStore) SaveSector(ctx context.Context, key personkey.Key, u sectoraccess.Update) error {
	pk, n := PersonPK(key), u.Next
	it := sectorItem{PK: pk, SK: skSector, RxLimited: n.Prescriptions.Limited, RxOnlyGP: n.Prescriptions.OnlyGP,
		SCRLimited: n.SCR.Limited, SCRApptOff: n.SCR.AppointmentHistoryBlocked, Version: n.Version,
		Research: map[string]bool{}, Since: map[string]string{}}
	for _, h := range n.Prescriptions.Blocked {
		it.RxBlocked = append(it.RxBlocked, string(h))
	}
	for _, h := range n.SCR.Blocked {
		it.SCRBlocked = append(it.SCRBlocked, string(h))
	}
	for p, v := range n.Research {
		it.Research[string(p)] = v
	}
	for k, v := range n.Since {
		it.Since[string(k)] = v.UTC().Format(timeLayout)
	}
	for _, c := range u.Changes {
		if at := c.At.UTC().Format(timeLayout); at > it.UpdatedAt {
			it.UpdatedAt = at
		}
	}
	state, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("encode sector settings: %w", err)
	}
	put := &types.Put{TableName: &s.Name, Item: state}
	if u.Expect == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("#v = :v")
		put.ExpressionAttributeNames = map[string]string{"#v": "version"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(u.Expect)}}
	}
	items := []types.TransactWriteItem{{Put: put}}
	for i, c := range u.Changes {
		// The index keeps the changes of one update in a stable order.
		at := c.At.UTC().Format(timeLayout)
		rec, err := attributevalue.MarshalMap(sectorChangeItem{PK: pk, SK: fmt.Sprintf("%s%s#%02d#%s", skSectorHistory, at, i, c.ID), ID: c.ID,
			Setting: string(c.Setting), Value: c.Value, By: string(c.By), Channel: string(c.Channel), At: at})
		if err != nil {
			return fmt.Errorf("encode sector change: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: rec}})
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if cancelledConditions(err) != nil {
		return sectoraccess.ErrVersionConflict
	}
	if err != nil {
		return fmt.Errorf("save sector settings: %w", err)
	}
	return nil
}

// SectorHistory implements sectoraccess.Store: changes newest first. The
// cursor is the last sort key of the previous page, base64url-encoded.
func (s SectorStore) SectorHistory(ctx context.Context, key personkey.Key, limit int, cursor string) ([]sectoraccess.Change, string, error) {
	pk := PersonPK(key)
	in := &dynamodb.QueryInput{
		TableName:              &s.Name,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: skSectorHistory},
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
		ConsistentRead:   aws.Bool(true),
	}
	if cursor != "" {
		sk, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.HasPrefix(string(sk), skSectorHistory) {
			return nil, "", domain.Errorf(domain.EInvalid, "invalid_cursor", "The cursor is not valid.")
		}
		in.ExclusiveStartKey = itemKey(pk, string(sk))
	}
	out, err := s.DB.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query sector history: %w", err)
	}
	var recs []sectorChangeItem
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &recs); err != nil {
		return nil, "", fmt.Errorf("decode sector history: %w", err)
	}
	changes := make([]sectoraccess.Change, 0, len(recs))
	for _, r := range recs {
		changes = append(changes, sectoraccess.Change{ID: r.ID, At: parseTime(r.At), Setting: sectoraccess.Setting(r.Setting),
			Value: r.Value, By: sectoraccess.By(r.By), Channel: sectoraccess.Channel(r.Channel)})
	}
	next := ""
	if sk, ok := out.LastEvaluatedKey["sk"].(*types.AttributeValueMemberS); ok {
		next = base64.RawURLEncoding.EncodeToString([]byte(sk.Value))
	}
	return changes, next, nil
}

// ChildBirth implements sectoraccess.Links with one GetItem on the
// parent's side of the relation: a current parental responsibility (not
// foster care, not ended) and the child's birth date.
func (s SectorStore) ChildBirth(ctx context.Context, parent, child personkey.Key) (nin.Date, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Name, Key: itemKey(PersonPK(parent), skChild+string(child)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nin.Date{}, false, fmt.Errorf("get child link: %w", err)
	}
	it := out.Item
	if it == nil || str(it["kind"]) != relationParent {
		return nin.Date{}, false, nil
	}
	if b, ok := it["ended"].(*types.AttributeValueMemberBOOL); ok && b.Value {
		return nin.Date{}, false, nil
	}
	d, err := parseDate(str(it["childBirthDate"]))
	if err != nil {
		return nin.Date{}, false, nil
	}
	return d, true, nil
}

// DecisionFacts implements sectoraccess.DecisionStore: the sector settings
// and the privacy settings (for the summary care record opt-out) in one
// BatchGetItem, the one round trip of a sector decision. Unprocessed keys
// (DynamoDB's throttling answer) are asked for again, which is rare.
func (s SectorStore) DecisionFacts(ctx context.Context, key personkey.Key) (sectoraccess.State, bool, error) {
	pk := PersonPK(key)
	req := map[string]types.KeysAndAttributes{s.Name: {Keys: []map[string]types.AttributeValue{itemKey(pk, skSector), itemKey(pk, skSettings)}, ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return sectoraccess.State{}, false, fmt.Errorf("batch get decision facts: %w", err)
		}
		items = append(items, out.Responses[s.Name]...)
		if len(out.UnprocessedKeys[s.Name].Keys) == 0 {
			break
		}
		if attempt == maxBatchAttempts {
			return sectoraccess.State{}, false, fmt.Errorf("batch get decision facts: keys still unprocessed after %d attempts", attempt)
		}
		if err := sleep(ctx, time.Duration(attempt)*20*time.Millisecond); err != nil {
			return sectoraccess.State{}, false, err
		}
		req = out.UnprocessedKeys
	}
	var st sectoraccess.State
	optedOut := false
	for _, it := range items {
		switch str(it["sk"]) {
		case skSector:
			var err error
			if st, err = decodeSector(it); err != nil {
				return sectoraccess.State{}, false, err
			}
		case skSettings:
			if b, ok := it["scrOptedOut"].(*types.AttributeValueMemberBOOL); ok {
				optedOut = b.Value
			}
		}
	}
	return st, optedOut, nil
}
