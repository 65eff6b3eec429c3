package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/shared/domain/registerfeed"
)

// FeedOutbox sends the register feed's notices to the notices queue and
// its untranslatable events to the feed's dead-letter queue, ten per call.
type FeedOutbox struct {
	SQS           SendAPI
	NoticesURL    string
	DeadLetterURL string
}

// SendNotices implements registerfeed.Outbox.
func (o FeedOutbox) SendNotices(ctx context.Context, msgs []registerfeed.Message) error {
	bodies := make([]string, len(msgs))
	for i, m := range msgs {
		bodies[i] = string(m.Body)
	}
	return sendBatches(ctx, o.SQS, o.NoticesURL, bodies)
}

// SendDeadLetters implements registerfeed.Outbox.
func (o FeedOutbox) SendDeadLetters(ctx context.Context, dls []registerfeed.DeadLetter) error {
	bodies := make([]string, len(dls))
	for i, d := range dls {
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("encode dead letter: %w", err)
		}
		bodies[i] = string(b)
	}
	return sendBatches(ctx, o.SQS, o.DeadLetterURL, bodies)
}

func sendBatches(ctx context.Context, api SendAPI, url string, bodies []string) error {
	for len(bodies) > 0 {
		n := min(10, len(bodies))
		entries := make([]types.SendMessageBatchRequestEntry, 0, n)
		for i, b := range bodies[:n] {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
		}
		out, err := api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries})
		if err != nil {
			return fmt.Errorf("send batch: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("send batch: %d of %d messages refused (%s)", len(out.Failed), n, aws.ToString(out.Failed[0].Code))
		}
		bodies = bodies[n:]
	}
	return nil
}
