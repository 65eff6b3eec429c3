package dynamo

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/idchange"
)

// mergeItems applies the rules of package idchange to an item moved from a
// retired id (moved, already rekeyed) and the item the new id holds under
// the same sort key (existing). It returns the item to write under the new
// key, or nil to keep existing as it is, and whether the moved item won
// (then its twin and job follow it); the moved item goes either way.
//
//   - Next of kin: one list, the union of both, one closest kept
//     (idchange.MergeKin).
//   - Consent, privacy settings, sector settings and the single-valued
//     profile items (channel, employer, communication needs), powers of
//     attorney and parental links: the newest change wins
//     (idchange.MovedWins). The consent or settings kept gets a version
//     above both, so an ETag read under either id is stale. The
//     histories are items of their own (CONSENTLOG#, OPTOUT#) and are all
//     kept.
//   - A death marker: a live death (pending or purged) beats an annulled
//     one, and its deletion job follows it; of two live ones the new id's
//     is kept.
//   - Everything else has a unique id in its sort key (usage log, receipts,
//     logins, app permissions, annulments): the new id's item is the same
//     record; it is kept.
func mergeItems(moved, existing map[string]types.AttributeValue) (write map[string]types.AttributeValue, movedWins bool, err error) {
	sk := str(existing["sk"])
	switch {
	case sk == skProfileKin:
		var a, b kinItem
		if err := attributevalue.UnmarshalMap(moved, &a); err != nil {
			return nil, false, fmt.Errorf("decode moved next of kin: %w", err)
		}
		if err := attributevalue.UnmarshalMap(existing, &b); err != nil {
			return nil, false, fmt.Errorf("decode next of kin: %w", err)
		}
		out, err := attributevalue.MarshalMap(newKinItem(str(existing["pk"]), idchange.MergeKin(a.kin(), b.kin())))
		if err != nil {
			return nil, false, fmt.Errorf("encode merged next of kin: %w", err)
		}
		return out, false, nil
	case sk == skConsent || sk == skSettings || sk == skSector:
		wins := idchange.MovedWins(changedAt(moved), changedAt(existing))
		out := maps.Clone(existing)
		if wins {
			out = maps.Clone(moved)
		}
		vm, _ := numberAttr(moved, "version") // absent: 0
		ve, _ := numberAttr(existing, "version")
		out["version"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(max(vm, ve)+1, 10)}
		return out, wins, nil
	case sk == skDeceased:
		// A registered death is never lost to an annulled one; of two
		// live deaths the new id's stays (its job runs as planned).
		live := func(it map[string]types.AttributeValue) bool {
			st := str(it["status"])
			return st == deathPending || st == deathPurged
		}
		if live(moved) && !live(existing) {
			return moved, true, nil
		}
		return nil, false, nil
	case sk == skProfileChannel || sk == skProfileEmployer || sk == skProfileNeeds,
		strings.HasPrefix(sk, skGrants), strings.HasPrefix(sk, skParent), strings.HasPrefix(sk, skChild):
		if idchange.MovedWins(changedAt(moved), changedAt(existing)) {
			return moved, true, nil
		}
		return nil, false, nil
	}
	return nil, false, nil
}

// changedAt is when an item last changed, from the first of its time
// attributes that it has (zero if none): updatedAt; since, a time or a map
// of times (the latest); scrOptedOutAt; createdAt.
func changedAt(it map[string]types.AttributeValue) time.Time {
	for _, a := range []string{"updatedAt", "since", "scrOptedOutAt", "createdAt"} {
		switch v := it[a].(type) {
		case *types.AttributeValueMemberS:
			if t := anyTime(v.Value); !t.IsZero() {
				return t
			}
		case *types.AttributeValueMemberM:
			var latest time.Time
			for _, e := range v.Value {
				if t := anyTime(str(e)); t.After(latest) {
					latest = t
				}
			}
			if !latest.IsZero() {
				return latest
			}
		}
	}
	return time.Time{}
}

// anyTime reads a stored time (timeLayout or RFC 3339); zero if neither.
func anyTime(s string) time.Time {
	if t, err := time.Parse(timeLayout, s); err == nil {
		return t
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
