package dynamo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/notices"
	"privacycore/shared/domain/personkey"
)

// MaxTransactItems is DynamoDB's limit of actions in one TransactWriteItems.
const MaxTransactItems = 100

// ReadDeath implements notices.DeathNotices with one BatchGetItem: the
// ledger entry, the annulment, the consent, the death marker, the
// notice's deletion job and the key's id change, if it was retired.
func (s DeathNoticeStore) ReadDeath(ctx context.Context, key personkey.Key, noticeID string) (notices.DeathRead, error) {
	pk, jobKey := PersonPK(key), jobPK(DeathJobID(key, noticeID))
	items, err := s.batchGet(ctx, []map[string]types.AttributeValue{
		itemKey(noticePK(noticeID), skNotice), itemKey(pk, skAnnulled+noticeID), itemKey(pk, skConsent),
		itemKey(pk, skDeceased), itemKey(jobKey, skJob),
		itemKey(idChangePrefix+string(key), skIDChange), itemKey(idChangePrefix+string(key), skIDChangeIn),
	})
	if err != nil {
		return notices.DeathRead{}, err
	}
	var consentItem map[string]types.AttributeValue
	var r notices.DeathRead
	for _, it := range items {
		switch ipk, sk := str(it["pk"]), str(it["sk"]); {
		case sk == skNotice:
			r.Processed = true
		case sk == skAnnulled+noticeID:
			r.Annulled = true
		case sk == skConsent:
			consentItem = it
		case sk == skDeceased:
			status := str(it["status"])
			r.Marker = notices.DeathMarker{NoticeID: str(it["noticeId"]), Live: status == deathPending || status == deathPurged}
		case ipk == jobKey:
			r.JobExists = true
		case sk == skIDChange:
			r.Retired = true
		case sk == skIDChangeIn:
			r.MovingIn = movingIn(it)
		}
	}
	if r.Consent, err = decodeConsent(consentItem); err != nil {
		return notices.DeathRead{}, err
	}
	return r, nil
}

// WriteDeath implements notices.DeathNotices with one TransactWriteItems:
// the consent (withdrawn, or checked unchanged), its history event, the
// death marker and job, every power of attorney both sides and the ledger
// entry, after one Query for the grants.
//
// Grants that do not fit into one transaction (more than about 47 pairs):
// when this notice records the death (or recorded it, and a crash left
// grants), the death goes first with as many grants as fit, then the rest
// in transactions guarded by this death's marker, and the ledger entry
// last. So an annulment that comes in between finds a recorded death (and
// keeps the grants not yet deleted: the person is alive), never deleted
// grants beside an untouched consent. Otherwise (another death is already
// registered) the extra grants go first, guarded by the ledger entry and
// the annulment.
func (s DeathNoticeStore) WriteDeath(ctx context.Context, w notices.DeathWrite) error {
	items, err := s.deathWrites(w)
	if err != nil {
		return err
	}
	if !w.DeleteGrants {
		return s.write(ctx, items)
	}
	grants, err := s.grantKeys(ctx, PersonPK(w.Key))
	if err != nil {
		return err
	}
	if total(grants) <= MaxTransactItems-len(items) {
		return s.write(ctx, append(items, deletes(s.Name, grants)...))
	}
	if w.Death == nil && w.Read.Marker.NoticeID != w.NoticeID {
		rest, err := s.deleteShares(ctx, grants, s.notYetApplied(w, false), MaxTransactItems-len(items))
		if err != nil {
			return err
		}
		return s.write(ctx, append(items, deletes(s.Name, rest)...))
	}
	// items[0] is the ledger entry's Put; until the last write, its check.
	check := s.notYetApplied(w, false)[0]
	first := append([]types.TransactWriteItem{check}, items[1:]...)
	n := fit(grants, MaxTransactItems-len(first))
	if err := s.transact(ctx, append(first, deletes(s.Name, grants[:n])...)); err != nil {
		return fmt.Errorf("write death notice: %w", err)
	}
	last := []types.TransactWriteItem{items[0], s.thisDeath(w)}
	rest, err := s.deleteShares(ctx, grants[n:], []types.TransactWriteItem{check, last[1]}, MaxTransactItems-len(last))
	if err != nil {
		return err
	}
	return s.write(ctx, append(last, deletes(s.Name, rest)...))
}

// deleteShares deletes grants, each with its twin, in transactions of their
// own guarded by guard, until what is left fits into room actions, and
// returns what is left.
func (s DeathNoticeStore) deleteShares(ctx context.Context, grants [][]map[string]types.AttributeValue, guard []types.TransactWriteItem, room int) ([][]map[string]types.AttributeValue, error) {
	for total(grants) > room {
		n := fit(grants, MaxTransactItems-len(guard))
		if err := s.transact(ctx, append(deletes(s.Name, grants[:n]), guard...)); err != nil {
			return nil, fmt.Errorf("delete powers of attorney: %w", err)
		}
		grants = grants[n:]
	}
	return grants, nil
}

func (s DeathNoticeStore) write(ctx context.Context, items []types.TransactWriteItem) error {
	if err := s.transact(ctx, items); err != nil {
		return fmt.Errorf("write death notice: %w", err)
	}
	return nil
}

// thisDeath checks that the person's death marker is this notice's, and
// registered (not annulled).
func (s DeathNoticeStore) thisDeath(w notices.DeathWrite) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &s.Name, Key: itemKey(PersonPK(w.Key), skDeceased),
		ConditionExpression:      aws.String("noticeId = :n AND #s IN (:pending, :purged)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": &types.AttributeValueMemberS{Value: w.NoticeID}, ":pending": &types.AttributeValueMemberS{Value: deathPending},
			":purged": &types.AttributeValueMemberS{Value: deathPurged},
		},
	}}
}

// fit is how many of grants (each with its twin) fit into room actions.
func fit(grants [][]map[string]types.AttributeValue, room int) int {
	n, size := 0, 0
	for n < len(grants) && size+len(grants[n]) <= room {
		size += len(grants[n])
		n++
	}
	return n
}

// deathWrites are the transaction's actions other than grant deletions:
// at most six, each conditional on what the notice read.
func (s DeathNoticeStore) deathWrites(w notices.DeathWrite) ([]types.TransactWriteItem, error) {
	pk := PersonPK(w.Key)
	items := s.notYetApplied(w, true)
	switch {
	case w.Withdraw != nil:
		puts, err := consentPuts(s.Name, pk, w.Withdraw.Next, w.Read.Consent.Version, w.Withdraw.Event)
		if err != nil {
			return nil, err
		}
		items = append(items, puts...)
	case w.DeleteGrants || w.Death != nil:
		// Decided on this consent (not active): it must still be so.
		cond, names, vals := atVersion(w.Read.Consent.Version)
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &s.Name, Key: itemKey(pk, skConsent), ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
		}})
	}
	if w.Death != nil {
		marker, job, err := deathItems(w.Key, w.NoticeID, w.Death.Received, w.Death.Due, s.Now())
		if err != nil {
			return nil, err
		}
		put := &types.Put{TableName: &s.Name, Item: marker, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if m := w.Read.Marker; m.NoticeID != "" {
			// Only an annulled death may be replaced, and only the one read.
			put.ConditionExpression = aws.String("#s = :annulled AND noticeId = :n")
			put.ExpressionAttributeNames = map[string]string{"#s": "status"}
			put.ExpressionAttributeValues = map[string]types.AttributeValue{
				":annulled": &types.AttributeValueMemberS{Value: deathAnnulled}, ":n": &types.AttributeValueMemberS{Value: m.NoticeID},
			}
		}
		items = append(items,
			types.TransactWriteItem{Put: put},
			types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: job, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}
	return items, nil
}

// notYetApplied guards a write of the notice: the ledger has no entry for
// it (record: the write makes that entry), the key is settled (neither
// retired nor receiving a move) and, unless the notice was found annulled,
// no annulment of it arrived meanwhile.
func (s DeathNoticeStore) notYetApplied(w notices.DeathWrite, record bool) []types.TransactWriteItem {
	ledger := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &s.Name, Key: itemKey(noticePK(w.NoticeID), skNotice), ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}}
	if record {
		at := w.At.UTC()
		ledger = types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, ConditionExpression: aws.String("attribute_not_exists(pk)"), Item: map[string]types.AttributeValue{
			"pk":        &types.AttributeValueMemberS{Value: noticePK(w.NoticeID)},
			"sk":        &types.AttributeValueMemberS{Value: skNotice},
			"type":      &types.AttributeValueMemberS{Value: string(w.Type)},
			"outcome":   &types.AttributeValueMemberS{Value: string(w.Outcome)},
			"at":        &types.AttributeValueMemberS{Value: at.Format(timeLayout)},
			"expiresAt": &types.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(notices.LedgerTTL).Unix(), 10)},
		}}}
	}
	// The person's key must still be the one in use, with no move into it
	// unfinished: otherwise the death would land beside the person's data.
	items := append([]types.TransactWriteItem{ledger}, settledConditions(s.Name, w.Key)...)
	if !w.Read.Annulled {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &s.Name, Key: itemKey(PersonPK(w.Key), skAnnulled+w.NoticeID), ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}})
	}
	return items
}

// transact writes items in one transaction; notices.ErrDeathChanged when a
// condition failed.
func (s DeathNoticeStore) transact(ctx context.Context, items []types.TransactWriteItem) error {
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil && cancelledConditions(err) != nil {
		return notices.ErrDeathChanged
	}
	return err
}

// grantKeys are the keys of the person's powers of attorney, given and
// received, each with its twin's, every key once.
func (s DeathNoticeStore) grantKeys(ctx context.Context, pk string) ([][]map[string]types.AttributeValue, error) {
	var grants [][]map[string]types.AttributeValue
	seen := map[[2]string]bool{}
	err := eachPrefix(ctx, s.Table, pk, skGrants, func(k erasable) error {
		var g []map[string]types.AttributeValue
		for _, key := range [][2]string{{k.PK, k.SK}, {k.MirrorPK, k.MirrorSK}} {
			if key[0] != "" && key[1] != "" && !seen[key] {
				seen[key] = true
				g = append(g, itemKey(key[0], key[1]))
			}
		}
		if len(g) > 0 {
			grants = append(grants, g)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list powers of attorney: %w", err)
	}
	return grants, nil
}

func total(grants [][]map[string]types.AttributeValue) int {
	n := 0
	for _, g := range grants {
		n += len(g)
	}
	return n
}

func deletes(table string, grants [][]map[string]types.AttributeValue) []types.TransactWriteItem {
	var items []types.TransactWriteItem
	for _, g := range grants {
		for _, k := range g {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &table, Key: k}})
		}
	}
	return items
}
