package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// Relation kinds on a CHILD#/PARENT# pair.
const (
	relationParent = "parental_responsibility"
	relationFoster = "foster"
)

// SetParent implements notices.Relations: both sides in one transaction,
// so either person finds the relation with one Query. Repeating it
// overwrites the same two items. The parent's side carries the dates the
// child turns 12 and 16, which the age-transition job finds by index.
func (s RelationStore) SetParent(ctx context.Context, parent, child personkey.Key, childBirth nin.Date, since time.Time) error {
	return s.setRelation(ctx, relationParent, parent, child, childBirth, since)
}

// SetFoster records a foster relation: known, so that a decision can say
// why a foster parent has no access, but it gives none.
func (s RelationStore) SetFoster(ctx context.Context, parent, child personkey.Key, childBirth nin.Date, since time.Time) error {
	return s.setRelation(ctx, relationFoster, parent, child, childBirth, since)
}

func (s RelationStore) setRelation(ctx context.Context, kind string, parent, child personkey.Key, childBirth nin.Date, since time.Time) error {
	ppk, cpk := PersonPK(parent), PersonPK(child)
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	at := str(since.UTC().Format(time.RFC3339))
	parentSide := map[string]types.AttributeValue{
		"pk": str(ppk), "sk": str(skChild + string(child)), "childKey": str(string(child)), "kind": str(kind),
		"childBirthDate": str(childBirth.String()), "since": at,
		"mirrorPk": str(cpk), "mirrorSk": str(skParent + string(parent)),
	}
	if kind == relationParent {
		parentSide[Turns12Attr] = str(clock.AddYears(childBirth, 12).String())
		parentSide[Turns16Attr] = str(clock.AddYears(childBirth, 16).String())
	}
	childSide := map[string]types.AttributeValue{
		"pk": str(cpk), "sk": str(skParent + string(parent)), "parentKey": str(string(parent)), "kind": str(kind),
		"since": at, "mirrorPk": str(ppk), "mirrorSk": str(skChild + string(child)),
	}
	return s.writeRelation(ctx, parentSide, childSide, "attribute_not_exists(pk) OR since <= :since", nil, map[string]types.AttributeValue{":since": at})
}

// writeRelation writes both sides of a relation if the condition holds on
// both. Notices come from a standard queue in any order: the condition lets
// only a notice at least as new as what is stored win; an older one is
// ignored, which is success.
func (s RelationStore) writeRelation(ctx context.Context, parentSide, childSide map[string]types.AttributeValue, cond string, names map[string]string, vals map[string]types.AttributeValue) error {
	put := func(item map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: &s.Name, Item: item, ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names, ExpressionAttributeValues: vals}}
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put(parentSide), put(childSide)}})
	if cancelledConditions(err) != nil {
		return nil // a newer relation or ending is already stored
	}
	if err != nil {
		return fmt.Errorf("write parental relation: %w", err)
	}
	return nil
}

// Relation ends are tombstones on both sides (ended, with the end time), so
// an older "set" notice that arrives afterwards cannot bring the relation
// back. Tombstones carry no birthday attributes, so the age job skips them,
// and every reader treats them as no relation.

// EndParentAt implements notices.Relations for parental responsibility.
func (s RelationStore) EndParentAt(ctx context.Context, parent, child personkey.Key, at time.Time) error {
	return s.endRelation(ctx, relationParent, parent, child, at)
}

// EndFosterAt implements notices.Relations for foster care; it never ends
// a parental relation.
func (s RelationStore) EndFosterAt(ctx context.Context, parent, child personkey.Key, at time.Time) error {
	return s.endRelation(ctx, relationFoster, parent, child, at)
}

// EndParent implements agejob.Store: parents' access ends at 16.
func (s AgeJobStore) EndParent(ctx context.Context, parent, child personkey.Key) error {
	return RelationStore(s).endRelation(ctx, relationParent, parent, child, s.Now())
}

func (s RelationStore) endRelation(ctx context.Context, kind string, parent, child personkey.Key, at time.Time) error {
	ppk, cpk := PersonPK(parent), PersonPK(child)
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	when := str(at.UTC().Format(time.RFC3339))
	side := func(pk, sk, mpk, msk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"pk": str(pk), "sk": str(sk), "kind": str(kind), "since": when, "ended": &types.AttributeValueMemberBOOL{Value: true},
			"mirrorPk": str(mpk), "mirrorSk": str(msk),
		}
	}
	return s.writeRelation(ctx,
		side(ppk, skChild+string(child), cpk, skParent+string(parent)),
		side(cpk, skParent+string(parent), ppk, skChild+string(child)),
		"attribute_not_exists(pk) OR (since <= :since AND #k = :kind)",
		map[string]string{"#k": "kind"},
		map[string]types.AttributeValue{":since": when, ":kind": str(kind)})
}

// The sparse indexes of the age-transition job: only parental links carry
// these attributes, the date (YYYY-MM-DD, Europe/Oslo civil date) the child
// turns 12 or 16.
const (
	Turns12Attr  = "turns12"
	Turns16Attr  = "turns16"
	Turns12Index = "ByTurns12"
	Turns16Index = "ByTurns16"
)

// Children lists the person keys a parent has parental responsibility for.
func (s RelationStore) Children(ctx context.Context, parent personkey.Key) ([]personkey.Key, error) {
	return s.relatedKeys(ctx, PersonPK(parent), skChild)
}

// Parents lists the person keys with parental responsibility for a child.
func (s RelationStore) Parents(ctx context.Context, child personkey.Key) ([]personkey.Key, error) {
	return s.relatedKeys(ctx, PersonPK(child), skParent)
}

func (s RelationStore) relatedKeys(ctx context.Context, pk, prefix string) ([]personkey.Key, error) {
	var keys []personkey.Key
	err := eachPrefix(ctx, s.Table, pk, prefix, func(k erasable) error {
		if !k.Ended {
			keys = append(keys, personkey.Key(strings.TrimPrefix(k.SK, prefix)))
		}
		return nil
	})
	return keys, err
}

// eachPrefix visits the keys of a partition's items whose sort key starts with prefix.
func eachPrefix(ctx context.Context, s *Table, pk, prefix string, fn func(erasable) error) error {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              &s.Name,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ProjectionExpression:   aws.String("pk, sk, mirrorPk, mirrorSk, ended"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s items: %w", strings.TrimSuffix(prefix, "#"), err)
		}
		for _, it := range out.Items {
			var k erasable
			k.PK, k.SK = str(it["pk"]), str(it["sk"])
			k.MirrorPK, k.MirrorSK = str(it["mirrorPk"]), str(it["mirrorSk"])
			if b, ok := it["ended"].(*types.AttributeValueMemberBOOL); ok {
				k.Ended = b.Value
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
