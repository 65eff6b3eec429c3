package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/registerfeed"
)

// FeedStore keeps the register feed's cursor and answers, by reads only,
// what the core knows about persons named in register events.
//
//	pk = FEED#persontjenesten, sk = CURSOR   seq (last sequence number done),
//	                                         heldSeq/heldSince (an annulment waiting)
type FeedStore struct {
	DB    DB
	Table string
	Now   func() time.Time
}

const (
	pkFeed = "FEED#persontjenesten"
	// FeedCursorSK is the cursor's sort key (operators set it to replay; see README).
	FeedCursorSK = "CURSOR"
)

// FeedCursorPK is the cursor item's partition key.
const FeedCursorPK = pkFeed

// Cursor implements registerfeed.Cursors.
func (s FeedStore) Cursor(ctx context.Context) (registerfeed.Cursor, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: itemKey(pkFeed, FeedCursorSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return registerfeed.Cursor{}, false, fmt.Errorf("get feed cursor: %w", err)
	}
	if out.Item == nil {
		return registerfeed.Cursor{}, false, nil
	}
	var c registerfeed.Cursor
	if c.Seq, err = numberAttr(out.Item, "seq"); err != nil {
		return c, false, fmt.Errorf("feed cursor: %w", err)
	}
	if _, ok := out.Item["heldSeq"]; ok {
		if c.HeldSeq, err = numberAttr(out.Item, "heldSeq"); err != nil {
			return c, false, fmt.Errorf("feed cursor: %w", err)
		}
		c.HeldSince, _ = time.Parse(time.RFC3339Nano, str(out.Item["heldSince"]))
	}
	return c, true, nil
}

// SetCursor implements registerfeed.Cursors with a conditional write.
func (s FeedStore) SetCursor(ctx context.Context, next registerfeed.Cursor, prev int64, found bool) error {
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pkFeed}, "sk": &types.AttributeValueMemberS{Value: FeedCursorSK},
		"seq":       &types.AttributeValueMemberN{Value: strconv.FormatInt(next.Seq, 10)},
		"updatedAt": &types.AttributeValueMemberS{Value: s.Now().UTC().Format(time.RFC3339)},
	}
	if next.HeldSeq > 0 {
		item["heldSeq"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(next.HeldSeq, 10)}
		item["heldSince"] = &types.AttributeValueMemberS{Value: next.HeldSince.UTC().Format(time.RFC3339Nano)}
	}
	in := &dynamodb.PutItemInput{TableName: &s.Table, Item: item}
	if found {
		in.ConditionExpression = aws.String("seq = :prev")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": &types.AttributeValueMemberN{Value: strconv.FormatInt(prev, 10)}}
	} else {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	}
	if _, err := s.DB.PutItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return errors.New("the feed cursor was moved by someone else (another run, or an operator replaying)")
		}
		return fmt.Errorf("put feed cursor: %w", err)
	}
	return nil
}

// Lookup implements registerfeed.Directory. A person is known if their
// partition holds anything: CONSENT and DECEASED are read in batches (the
// death marker also names the death notice an annulment refers to); for the
// rest one Query of at most one key, which finds a child known only by its
// parents' relations. No write, whatever the answer.
func (s FeedStore) Lookup(ctx context.Context, keys []personkey.Key) (map[personkey.Key]registerfeed.Known, error) {
	out := make(map[personkey.Key]registerfeed.Known, len(keys))
	var uniq []personkey.Key
	for _, k := range keys {
		if _, dup := out[k]; !dup {
			out[k] = registerfeed.Known{}
			uniq = append(uniq, k)
		}
	}
	for start := 0; start < len(uniq); start += 50 { // 100 keys per BatchGetItem
		var req []map[string]types.AttributeValue
		for _, k := range uniq[start:min(start+50, len(uniq))] {
			req = append(req, itemKey(PersonPK(k), skConsent), itemKey(PersonPK(k), skDeceased))
		}
		items, err := s.batchGet(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			k := personkey.Key(strings.TrimPrefix(str(it["pk"]), "P#"))
			kn := out[k]
			kn.Known = true
			if str(it["sk"]) == skDeceased {
				kn.DeathNotice = str(it["noticeId"])
			}
			out[k] = kn
		}
	}
	for _, k := range uniq {
		if out[k].Known {
			continue
		}
		q, err := s.DB.Query(ctx, &dynamodb.QueryInput{
			TableName: &s.Table, KeyConditionExpression: aws.String("pk = :pk"), Limit: aws.Int32(1),
			ProjectionExpression:      aws.String("pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: PersonPK(k)}},
		})
		if err != nil {
			return nil, fmt.Errorf("query person partition: %w", err)
		}
		if len(q.Items) > 0 {
			out[k] = registerfeed.Known{Known: true}
		}
	}
	return out, nil
}

func (s FeedStore) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.Table: {Keys: keys, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("pk, sk, noticeId")}}
	var items []map[string]types.AttributeValue
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("batch get persons: %w", err)
		}
		items = append(items, out.Responses[s.Table]...)
		if len(out.UnprocessedKeys) == 0 || len(out.UnprocessedKeys[s.Table].Keys) == 0 {
			return items, nil
		}
		if attempt == maxBatchAttempts {
			return nil, fmt.Errorf("batch get persons: keys still unprocessed after %d attempts", attempt)
		}
		req = out.UnprocessedKeys
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

// numberAttr reads the integer attribute name of it.
func numberAttr(it map[string]types.AttributeValue, name string) (int64, error) {
	n, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%s is not a number", name)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}
