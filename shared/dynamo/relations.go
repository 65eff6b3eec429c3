package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/clock"
	"privacycore/shared/nin"
	"privacycore/shared/personkey"
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
func (s *Store) SetParent(ctx context.Context, parent, child personkey.Key, childBirth nin.Date, since time.Time) error {
	return s.setRelation(ctx, relationParent, parent, child, childBirth, since)
}

// SetFoster records a foster relation: known, so that a decision can say
// why a foster parent has no access, but it gives none.
func (s *Store) SetFoster(ctx context.Context, parent, child personkey.Key, childBirth nin.Date, since time.Time) error {
	return s.setRelation(ctx, relationFoster, parent, child, childBirth, since)
}

func (s *Store) setRelation(ctx context.Context, kind string, parent, child personkey.Key, childBirth nin.Date, since time.Time) error {
	ppk, cpk := PersonPK(parent), PersonPK(child)
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	parentSide := map[string]types.AttributeValue{
		"pk": str(ppk), "sk": str(skChild + string(child)), "childKey": str(string(child)), "kind": str(kind),
		"childBirthDate": str(childBirth.String()), "since": str(since.UTC().Format(time.RFC3339)),
		"mirrorPk": str(cpk), "mirrorSk": str(skParent + string(parent)),
	}
	if kind == relationParent {
		parentSide[Turns12Attr] = str(clock.AddYears(childBirth, 12).String())
		parentSide[Turns16Attr] = str(clock.AddYears(childBirth, 16).String())
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.Table, Item: parentSide}},
		{Put: &types.Put{TableName: &s.Table, Item: map[string]types.AttributeValue{
			"pk": str(cpk), "sk": str(skParent + string(parent)), "parentKey": str(string(parent)),
			"since":    str(since.UTC().Format(time.RFC3339)),
			"mirrorPk": str(ppk), "mirrorSk": str(skChild + string(child)),
		}}},
	}})
	if err != nil {
		return fmt.Errorf("set parental responsibility: %w", err)
	}
	return nil
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

// EndParent implements notices.Relations.
func (s *Store) EndParent(ctx context.Context, parent, child personkey.Key) error {
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.Table, Key: itemKey(PersonPK(parent), skChild+string(child))}},
		{Delete: &types.Delete{TableName: &s.Table, Key: itemKey(PersonPK(child), skParent+string(parent))}},
	}})
	if err != nil {
		return fmt.Errorf("end parental responsibility: %w", err)
	}
	return nil
}

// Children lists the person keys a parent has parental responsibility for.
func (s *Store) Children(ctx context.Context, parent personkey.Key) ([]personkey.Key, error) {
	return s.relatedKeys(ctx, PersonPK(parent), skChild)
}

// Parents lists the person keys with parental responsibility for a child.
func (s *Store) Parents(ctx context.Context, child personkey.Key) ([]personkey.Key, error) {
	return s.relatedKeys(ctx, PersonPK(child), skParent)
}

func (s *Store) relatedKeys(ctx context.Context, pk, prefix string) ([]personkey.Key, error) {
	var keys []personkey.Key
	err := s.eachPrefix(ctx, pk, prefix, func(k erasable) error {
		keys = append(keys, personkey.Key(strings.TrimPrefix(k.SK, prefix)))
		return nil
	})
	return keys, err
}

// DeleteAllGrants implements notices.Grants: every power of attorney the
// person gave or received, with the other side's twin.
func (s *Store) DeleteAllGrants(ctx context.Context, key personkey.Key) (int, error) {
	var del []map[string]types.AttributeValue
	n := 0
	err := s.eachPrefix(ctx, PersonPK(key), skGrants, func(k erasable) error {
		n++
		del = append(del, itemKey(k.PK, k.SK))
		if k.MirrorPK != "" && k.MirrorSK != "" {
			del = append(del, itemKey(k.MirrorPK, k.MirrorSK))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := s.deleteKeys(ctx, del); err != nil {
		return 0, fmt.Errorf("delete powers of attorney: %w", err)
	}
	return n, nil
}

// eachPrefix visits the keys of a partition's items whose sort key starts with prefix.
func (s *Store) eachPrefix(ctx context.Context, pk, prefix string, fn func(erasable) error) error {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              &s.Table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ProjectionExpression:   aws.String("pk, sk, mirrorPk, mirrorSk"),
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
