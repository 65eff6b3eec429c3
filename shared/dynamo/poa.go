package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/access"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/poa"
)

// A power of attorney is two items written together: POA#GIVEN#<grantee key>
// in the grantor's partition and POA#RECEIVED#<grantor key> in the
// grantee's, so each side lists its grants with one Query and a decision
// finds the grant with one key. There is at most one grant per pair.
type grantItem struct {
	PK         string   `dynamodbav:"pk"`
	SK         string   `dynamodbav:"sk"`
	GrantID    string   `dynamodbav:"grantId"`
	GrantorKey string   `dynamodbav:"grantorKey"`
	GranteeKey string   `dynamodbav:"granteeKey"`
	Areas      []string `dynamodbav:"areas"`
	ValidFrom  string   `dynamodbav:"validFrom"`
	ValidTo    string   `dynamodbav:"validTo"`
	CreatedAt  string   `dynamodbav:"createdAt"`
	UpdatedAt  string   `dynamodbav:"updatedAt"`
	// ConfirmedAt: absent on items written before it existed (read as createdAt).
	ConfirmedAt string `dynamodbav:"confirmedAt,omitempty"`
	Version     int64  `dynamodbav:"version"`
	MirrorPK    string `dynamodbav:"mirrorPk"`
	MirrorSK    string `dynamodbav:"mirrorSk"`
}

func grantSides(g poa.Grant) (given, received grantItem) {
	areas := make([]string, len(g.Areas))
	for i, a := range g.Areas {
		areas[i] = string(a)
	}
	base := grantItem{
		GrantID: g.ID, GrantorKey: string(g.Grantor), GranteeKey: string(g.Grantee), Areas: areas,
		ValidFrom: g.ValidFrom.UTC().Format(time.RFC3339), ValidTo: g.ValidTo.UTC().Format(time.RFC3339),
		CreatedAt: g.CreatedAt.UTC().Format(timeLayout), UpdatedAt: g.UpdatedAt.UTC().Format(timeLayout), Version: g.Version,
	}
	if !g.ConfirmedAt.IsZero() {
		base.ConfirmedAt = g.ConfirmedAt.UTC().Format(timeLayout)
	}
	given, received = base, base
	given.PK, given.SK = PersonPK(g.Grantor), skGrantGiven+string(g.Grantee)
	received.PK, received.SK = PersonPK(g.Grantee), skGrantReceived+string(g.Grantor)
	given.MirrorPK, given.MirrorSK = received.PK, received.SK
	received.MirrorPK, received.MirrorSK = given.PK, given.SK
	return given, received
}

func (it grantItem) grant() poa.Grant {
	from, _ := time.Parse(time.RFC3339, it.ValidFrom)
	to, _ := time.Parse(time.RFC3339, it.ValidTo)
	created, _ := time.Parse(timeLayout, it.CreatedAt)
	updated, _ := time.Parse(timeLayout, it.UpdatedAt)
	confirmed := created
	if c, err := time.Parse(timeLayout, it.ConfirmedAt); err == nil {
		confirmed = c
	}
	areas := make([]access.Area, len(it.Areas))
	for i, a := range it.Areas {
		areas[i] = access.Area(a)
	}
	return poa.Grant{
		ID: it.GrantID, Grantor: personkey.Key(it.GrantorKey), Grantee: personkey.Key(it.GranteeKey), Areas: areas,
		ValidFrom: from, ValidTo: to, CreatedAt: created, UpdatedAt: updated, ConfirmedAt: confirmed, Version: it.Version,
	}
}

// CreateGrant writes both sides of a new grant in one transaction.
func (s GrantStore) CreateGrant(ctx context.Context, g poa.Grant) error {
	given, received := grantSides(g)
	gi, err := attributevalue.MarshalMap(given)
	if err != nil {
		return fmt.Errorf("encode grant: %w", err)
	}
	ri, err := attributevalue.MarshalMap(received)
	if err != nil {
		return fmt.Errorf("encode grant: %w", err)
	}
	notExists := aws.String("attribute_not_exists(pk)")
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.Name, Item: gi, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: &s.Name, Item: ri, ConditionExpression: notExists}},
		// Neither side registered dead: a death notice applied between the
		// service's check and this write would not see this grant.
		s.notDead(g.Grantor), s.notDead(g.Grantee),
	}})
	switch failed := cancelledConditions(err); {
	case len(failed) > 2 && failed[2]:
		return poa.ErrGrantorDeceased
	case len(failed) > 3 && failed[3]:
		return poa.ErrGranteeDeceased
	case failed != nil:
		return poa.ErrGrantExists
	}
	if err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	return nil
}

// notDead checks that no death is registered (pending or purged) for key.
func (s GrantStore) notDead(key personkey.Key) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &s.Name, Key: itemKey(PersonPK(key), skDeceased),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #s = :annulled"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":annulled": &types.AttributeValueMemberS{Value: deathAnnulled}},
	}}
}

// Grants lists the grants a person has given and received.
func (s GrantStore) Grants(ctx context.Context, key personkey.Key) (given, received []poa.Grant, err error) {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              &s.Name,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: PersonPK(key)}, ":p": &types.AttributeValueMemberS{Value: skGrants},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("query grants: %w", err)
		}
		var items []grantItem
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
			return nil, nil, fmt.Errorf("decode grants: %w", err)
		}
		for _, it := range items {
			if strings.HasPrefix(it.SK, skGrantGiven) {
				given = append(given, it.grant())
			} else {
				received = append(received, it.grant())
			}
		}
	}
	return given, received, nil
}

// GivenGrant finds a grant the person gave, by its id.
func (s GrantStore) GivenGrant(ctx context.Context, grantor personkey.Key, id string) (poa.Grant, error) {
	given, _, err := s.Grants(ctx, grantor)
	if err != nil {
		return poa.Grant{}, err
	}
	for _, g := range given {
		if g.ID == id {
			return g, nil
		}
	}
	return poa.Grant{}, poa.ErrGrantNotFound
}

// UpdateGrant rewrites both sides if the grant is still at version expect.
func (s GrantStore) UpdateGrant(ctx context.Context, g poa.Grant, expect int64) error {
	given, received := grantSides(g)
	var items []types.TransactWriteItem
	for _, side := range []grantItem{given, received} {
		av, err := attributevalue.MarshalMap(side)
		if err != nil {
			return fmt.Errorf("encode grant: %w", err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: &s.Name, Item: av,
			ConditionExpression:      aws.String("grantId = :id AND #v = :v"),
			ExpressionAttributeNames: map[string]string{"#v": "version"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":id": &types.AttributeValueMemberS{Value: g.ID}, ":v": &types.AttributeValueMemberN{Value: fmt.Sprint(expect)},
			},
		}})
	}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if cancelledConditions(err) != nil {
		return poa.ErrConcurrentUpdate
	}
	if err != nil {
		return fmt.Errorf("update grant: %w", err)
	}
	return nil
}

// DeleteGrant deletes both sides of a grant in one transaction.
func (s GrantStore) DeleteGrant(ctx context.Context, g poa.Grant) error {
	given, received := grantSides(g)
	cond := aws.String("grantId = :id")
	vals := map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: g.ID}}
	_, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.Name, Key: itemKey(given.PK, given.SK), ConditionExpression: cond, ExpressionAttributeValues: vals}},
		{Delete: &types.Delete{TableName: &s.Name, Key: itemKey(received.PK, received.SK)}},
	}})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && cancelledConditions(err) != nil {
		return poa.ErrGrantNotFound
	}
	if err != nil {
		return fmt.Errorf("delete grant: %w", err)
	}
	return nil
}
