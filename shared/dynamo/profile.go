package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
)

// Profile items, all in the person's partition under one prefix, so one
// Query reads the whole profile and the erase of a withdrawal or a death
// deletes them like any other data of the person. None of them holds a
// person id or another person's key.
const (
	skProfile         = "PROFILE#"
	skProfileChannel  = "PROFILE#CHANNEL"
	skProfileKin      = "PROFILE#NOK" // every next of kin in one item: see SaveNextOfKin
	skProfileEmployer = "PROFILE#EMPLOYER"
	skProfileNeeds    = "PROFILE#COMMUNICATION"
	skProfileLogin    = "PROFILE#LOGIN#"
	skProfileApp      = "PROFILE#APP#"
)

type channelItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Channel   string `dynamodbav:"channel"`
	UpdatedAt string `dynamodbav:"updatedAt"`
}

type kinEntry struct {
	ID       string `dynamodbav:"id"`
	Name     string `dynamodbav:"name"`
	Phone    string `dynamodbav:"phone"`
	Email    string `dynamodbav:"email,omitempty"`
	Relation string `dynamodbav:"relation"`
	AddedAt  string `dynamodbav:"addedAt"`
}

type kinItem struct {
	PK        string     `dynamodbav:"pk"`
	SK        string     `dynamodbav:"sk"`
	Items     []kinEntry `dynamodbav:"items"`
	Closest   string     `dynamodbav:"closest"`
	Version   int64      `dynamodbav:"version"`
	UpdatedAt string     `dynamodbav:"updatedAt"`
}

type employerItem struct {
	PK                 string `dynamodbav:"pk"`
	SK                 string `dynamodbav:"sk"`
	Name               string `dynamodbav:"name"`
	OrganisationNumber string `dynamodbav:"organisationNumber,omitempty"`
	Phone              string `dynamodbav:"phone,omitempty"`
	Email              string `dynamodbav:"email,omitempty"`
	UpdatedAt          string `dynamodbav:"updatedAt"`
}

type needsItem struct {
	PK                  string `dynamodbav:"pk"`
	SK                  string `dynamodbav:"sk"`
	Text                string `dynamodbav:"text,omitempty"`
	InterpreterLanguage string `dynamodbav:"interpreterLanguage,omitempty"`
	SignLanguage        bool   `dynamodbav:"signLanguage"`
	PlainLanguage       bool   `dynamodbav:"plainLanguage"`
	UpdatedAt           string `dynamodbav:"updatedAt"`
}

type loginItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	ID        string `dynamodbav:"id"`
	Client    string `dynamodbav:"client"`
	Method    string `dynamodbav:"method"`
	CreatedAt string `dynamodbav:"createdAt"`
	// ExpiresAt is epoch seconds: the table's TTL attribute removes the
	// item some time after the login ended.
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

type appItem struct {
	PK        string   `dynamodbav:"pk"`
	SK        string   `dynamodbav:"sk"`
	ID        string   `dynamodbav:"id"`
	ClientID  string   `dynamodbav:"clientId"`
	Name      string   `dynamodbav:"name"`
	Scopes    []string `dynamodbav:"scopes"`
	GrantedAt string   `dynamodbav:"grantedAt"`
}

// Profile implements profile.Store with one Query over the profile prefix.
func (s ProfileStore) Profile(ctx context.Context, key personkey.Key) (profile.Snapshot, error) {
	items, err := profileItems(ctx, s.Table, PersonPK(key), skProfile)
	if err != nil {
		return profile.Snapshot{}, err
	}
	var snap profile.Snapshot
	for _, it := range items {
		if err := decodeProfileItem(it, &snap); err != nil {
			return profile.Snapshot{}, err
		}
	}
	return snap, nil
}

func decodeProfileItem(it map[string]types.AttributeValue, snap *profile.Snapshot) error {
	sk := str(it["sk"])
	var err error
	switch {
	case sk == skProfileChannel:
		var c channelItem
		err = attributevalue.UnmarshalMap(it, &c)
		snap.Channel = profile.Channel(c.Channel)
	case sk == skProfileKin:
		var k kinItem
		err = attributevalue.UnmarshalMap(it, &k)
		snap.Kin = k.kin()
	case sk == skProfileEmployer:
		var e employerItem
		err = attributevalue.UnmarshalMap(it, &e)
		snap.Employer = &profile.Employer{Name: e.Name, OrganisationNumber: e.OrganisationNumber, Phone: e.Phone, Email: e.Email, UpdatedAt: parseTime(e.UpdatedAt)}
	case sk == skProfileNeeds:
		var n needsItem
		err = attributevalue.UnmarshalMap(it, &n)
		snap.CommunicationNeeds = &profile.CommunicationNeeds{Text: n.Text, InterpreterLanguage: n.InterpreterLanguage, SignLanguage: n.SignLanguage, PlainLanguage: n.PlainLanguage, UpdatedAt: parseTime(n.UpdatedAt)}
	case strings.HasPrefix(sk, skProfileLogin):
		var l loginItem
		err = attributevalue.UnmarshalMap(it, &l)
		snap.Logins = append(snap.Logins, l.login())
	case strings.HasPrefix(sk, skProfileApp):
		var a appItem
		err = attributevalue.UnmarshalMap(it, &a)
		snap.AppPermissions = append(snap.AppPermissions, a.permission())
	}
	if err != nil {
		return fmt.Errorf("decode profile item: %w", err)
	}
	return nil
}

// SetNotificationChannel implements profile.Store.
func (s ProfileStore) SetNotificationChannel(ctx context.Context, key personkey.Key, c profile.Channel, at time.Time) error {
	return putProfile(ctx, s.Table, channelItem{PK: PersonPK(key), SK: skProfileChannel, Channel: string(c), UpdatedAt: at.UTC().Format(timeLayout)}, "")
}

// NextOfKin implements profile.Store with one strongly consistent GetItem.
func (s ProfileStore) NextOfKin(ctx context.Context, key personkey.Key) (profile.Kin, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Name, Key: itemKey(PersonPK(key), skProfileKin), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return profile.Kin{}, fmt.Errorf("get next of kin: %w", err)
	}
	if out.Item == nil {
		return profile.Kin{}, nil
	}
	var k kinItem
	if err := attributevalue.UnmarshalMap(out.Item, &k); err != nil {
		return profile.Kin{}, fmt.Errorf("decode next of kin: %w", err)
	}
	return k.kin(), nil
}

// SaveNextOfKin implements profile.Store. All next of kin are one item, so
// "exactly one is closest" holds in every version written, and a
// conditional put on the version makes concurrent changes serial: of two
// writers that read the same version, exactly one succeeds. The item stays
// (with no entries) when the last next of kin is removed, so versions never
// repeat and a stale If-Match can never match a later state.
func (s ProfileStore) SaveNextOfKin(ctx context.Context, key personkey.Key, next profile.Kin, expect int64) error {
	av, err := attributevalue.MarshalMap(newKinItem(PersonPK(key), next))
	if err != nil {
		return fmt.Errorf("encode next of kin: %w", err)
	}
	cond, names, vals := atVersion(expect)
	in := &dynamodb.PutItemInput{TableName: &s.Name, Item: av, ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}
	_, err = s.DB.PutItem(ctx, in)
	if isConditionFailed(err) {
		return profile.ErrVersionConflict
	}
	if err != nil {
		return fmt.Errorf("put next of kin: %w", err)
	}
	return nil
}

// SetEmployer implements profile.Store.
func (s ProfileStore) SetEmployer(ctx context.Context, key personkey.Key, e profile.Employer) error {
	return putProfile(ctx, s.Table, employerItem{
		PK: PersonPK(key), SK: skProfileEmployer, Name: e.Name, OrganisationNumber: e.OrganisationNumber,
		Phone: e.Phone, Email: e.Email, UpdatedAt: e.UpdatedAt.UTC().Format(timeLayout),
	}, "")
}

// DeleteEmployer implements profile.Store.
func (s ProfileStore) DeleteEmployer(ctx context.Context, key personkey.Key) error {
	return deleteProfile(ctx, s.Table, PersonPK(key), skProfileEmployer, false)
}

// SetCommunicationNeeds implements profile.Store.
func (s ProfileStore) SetCommunicationNeeds(ctx context.Context, key personkey.Key, n profile.CommunicationNeeds) error {
	return putProfile(ctx, s.Table, needsItem{
		PK: PersonPK(key), SK: skProfileNeeds, Text: n.Text, InterpreterLanguage: n.InterpreterLanguage,
		SignLanguage: n.SignLanguage, PlainLanguage: n.PlainLanguage, UpdatedAt: n.UpdatedAt.UTC().Format(timeLayout),
	}, "")
}

// DeleteCommunicationNeeds implements profile.Store.
func (s ProfileStore) DeleteCommunicationNeeds(ctx context.Context, key personkey.Key) error {
	return deleteProfile(ctx, s.Table, PersonPK(key), skProfileNeeds, false)
}

// AddLogin implements profile.Store.
func (s LoginStore) AddLogin(ctx context.Context, key personkey.Key, l profile.Login) error {
	return putProfile(ctx, s.Table, loginItem{
		PK: PersonPK(key), SK: skProfileLogin + l.ID, ID: l.ID, Client: l.Client, Method: string(l.Method),
		CreatedAt: l.CreatedAt.UTC().Format(timeLayout), ExpiresAt: l.ExpiresAt.Unix(),
	}, "attribute_not_exists(pk)")
}

// Logins implements profile.Store, expired ones included.
func (s LoginStore) Logins(ctx context.Context, key personkey.Key) ([]profile.Login, error) {
	items, err := profileItems(ctx, s.Table, PersonPK(key), skProfileLogin)
	if err != nil {
		return nil, err
	}
	var ls []loginItem
	if err := attributevalue.UnmarshalListOfMaps(items, &ls); err != nil {
		return nil, fmt.Errorf("decode logins: %w", err)
	}
	out := make([]profile.Login, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.login())
	}
	return out, nil
}

// DeleteLogin implements profile.Store.
func (s LoginStore) DeleteLogin(ctx context.Context, key personkey.Key, id string) error {
	return deleteProfile(ctx, s.Table, PersonPK(key), skProfileLogin+id, true)
}

// PutAppPermission implements profile.Store.
func (s AppStore) PutAppPermission(ctx context.Context, key personkey.Key, p profile.AppPermission) (bool, error) {
	av, err := attributevalue.MarshalMap(appItem{
		PK: PersonPK(key), SK: skProfileApp + p.ID, ID: p.ID, ClientID: p.ClientID, Name: p.Name,
		Scopes: p.Scopes, GrantedAt: p.GrantedAt.UTC().Format(timeLayout),
	})
	if err != nil {
		return false, fmt.Errorf("encode app permission: %w", err)
	}
	out, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.Name, Item: av, ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return false, fmt.Errorf("put app permission: %w", err)
	}
	return len(out.Attributes) == 0, nil
}

// AppPermissions implements profile.Store.
func (s AppStore) AppPermissions(ctx context.Context, key personkey.Key) ([]profile.AppPermission, error) {
	items, err := profileItems(ctx, s.Table, PersonPK(key), skProfileApp)
	if err != nil {
		return nil, err
	}
	var as []appItem
	if err := attributevalue.UnmarshalListOfMaps(items, &as); err != nil {
		return nil, fmt.Errorf("decode app permissions: %w", err)
	}
	out := make([]profile.AppPermission, 0, len(as))
	for _, a := range as {
		out = append(out, a.permission())
	}
	return out, nil
}

// DeleteAppPermission implements profile.Store.
func (s AppStore) DeleteAppPermission(ctx context.Context, key personkey.Key, id string) error {
	return deleteProfile(ctx, s.Table, PersonPK(key), skProfileApp+id, true)
}

// ParentChannels implements profile.Parents. A parent counts only if the
// relation is on both sides (the child's PARENT# item leads to the parent's
// CHILD# item) and is parental responsibility, not foster care; only the
// parent's channel is read from their partition, nothing else.
func (s ProfileStore) ParentChannels(ctx context.Context, child personkey.Key) ([]profile.Channel, error) {
	parents, err := RelationStore(s).Parents(ctx, child)
	if err != nil {
		return nil, err
	}
	var chs []profile.Channel
	for _, p := range parents {
		link, err := getProfileAttrs(ctx, s.Table, PersonPK(p), skChild+string(child), "kind")
		if err != nil {
			return nil, fmt.Errorf("get parent's side of the relation: %w", err)
		}
		if link == nil || str(link["kind"]) == relationFoster {
			continue
		}
		c, err := getProfileAttrs(ctx, s.Table, PersonPK(p), skProfileChannel, "channel")
		if err != nil {
			return nil, fmt.Errorf("get parent's channel: %w", err)
		}
		chs = append(chs, profile.Channel(str(c["channel"])))
	}
	return chs, nil
}

// getProfileAttrs reads some attributes of one item (the key attributes
// always come along, so a found item is never empty); nil if there is none.
func getProfileAttrs(ctx context.Context, s *Table, pk, sk, attr string) (map[string]types.AttributeValue, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Name, Key: itemKey(pk, sk), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("pk, #a"), ExpressionAttributeNames: map[string]string{"#a": attr},
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// putProfile writes one profile item, on condition cond if given.
func putProfile(ctx context.Context, s *Table, item any, cond string) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fmt.Errorf("encode profile item: %w", err)
	}
	in := &dynamodb.PutItemInput{TableName: &s.Name, Item: av}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	if _, err := s.DB.PutItem(ctx, in); err != nil {
		return fmt.Errorf("put profile item: %w", err)
	}
	return nil
}

// deleteProfile deletes one profile item; with mustExist, a missing item
// is profile.ErrNotFound.
func deleteProfile(ctx context.Context, s *Table, pk, sk string, mustExist bool) error {
	in := &dynamodb.DeleteItemInput{TableName: &s.Name, Key: itemKey(pk, sk)}
	if mustExist {
		in.ConditionExpression = aws.String("attribute_exists(pk)")
	}
	_, err := s.DB.DeleteItem(ctx, in)
	if isConditionFailed(err) {
		return profile.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete profile item: %w", err)
	}
	return nil
}

// profileItems reads every item of a partition under prefix, strongly consistent.
func profileItems(ctx context.Context, s *Table, pk, prefix string) ([]map[string]types.AttributeValue, error) {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:              &s.Name,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	})
	var items []map[string]types.AttributeValue
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query profile items: %w", err)
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

func newKinItem(pk string, k profile.Kin) kinItem {
	it := kinItem{
		PK: pk, SK: skProfileKin, Items: make([]kinEntry, 0, len(k.Items)), Closest: k.Closest,
		Version: k.Version, UpdatedAt: k.UpdatedAt.UTC().Format(timeLayout),
	}
	for _, n := range k.Items {
		it.Items = append(it.Items, kinEntry{ID: n.ID, Name: n.Name, Phone: n.Phone, Email: n.Email, Relation: string(n.Relation), AddedAt: n.AddedAt.UTC().Format(timeLayout)})
	}
	return it
}

func (k kinItem) kin() profile.Kin {
	out := profile.Kin{Closest: k.Closest, Version: k.Version, UpdatedAt: parseTime(k.UpdatedAt)}
	for _, e := range k.Items {
		out.Items = append(out.Items, profile.NextOfKin{
			ID: e.ID, Name: e.Name, Phone: e.Phone, Email: e.Email, Relation: profile.Relation(e.Relation), AddedAt: parseTime(e.AddedAt),
		})
	}
	return out
}

func (l loginItem) login() profile.Login {
	return profile.Login{
		ID: l.ID, Client: l.Client, Method: profile.LoginMethod(l.Method),
		CreatedAt: parseTime(l.CreatedAt), ExpiresAt: time.Unix(l.ExpiresAt, 0).UTC(),
	}
}

func (a appItem) permission() profile.AppPermission {
	return profile.AppPermission{ID: a.ID, ClientID: a.ClientID, Name: a.Name, Scopes: a.Scopes, GrantedAt: parseTime(a.GrantedAt)}
}

// parseTime reads a stored timeLayout time; a bad one reads as zero.
func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}
