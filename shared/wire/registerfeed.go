package wire

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"privacycore/shared/domain/registerfeed"
	"privacycore/shared/dynamo"
	"privacycore/shared/platform/helseid"
	"privacycore/shared/registers/persontjenesten"
	"privacycore/shared/sqs/queue"
)

// RegisterFeed builds the scheduled function that reads the population
// register's event feed into the notices queue.
func RegisterFeed(env Env) (ScheduleHandler, error) {
	log := env.logger()
	keys, err := env.keyer()
	if err != nil {
		return nil, err
	}
	stores, err := env.store()
	if err != nil {
		return nil, err
	}
	reg, err := env.register()
	if err != nil {
		return nil, err
	}
	noticesURL, err := env.require("NOTICES_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	dlqURL, err := env.require("REGISTER_FEED_DLQ_URL")
	if err != nil {
		return nil, err
	}
	start, err := registerfeed.ParseStart(env.Getenv("REGISTER_FEED_START"))
	if err != nil {
		return nil, err
	}
	store := dynamo.FeedStore{DB: stores.Table.DB, Table: stores.Table.Name, Now: env.Now}
	f := &registerfeed.Feed{
		Register: reg, Cursors: store, Directory: store,
		Outbox: queue.FeedOutbox{SQS: sqs.NewFromConfig(env.AWS), NoticesURL: noticesURL, DeadLetterURL: dlqURL},
		Keys:   keys, Start: start, Budget: registerfeed.DefaultBudget, Now: env.Now, Log: log,
	}
	m := env.Metrics()
	return func(ctx context.Context) (ScheduleResult, error) {
		// Leave the last page room to finish inside the function's timeout.
		ctx, cancel := context.WithTimeout(ctx, f.Budget+10*time.Second)
		defer cancel()
		rep, err := f.Run(ctx)
		m.FeedRun(ctx, rep.Events, rep.Sent, rep.Unknown, rep.DeadLettered)
		if rep.Latest > 0 {
			m.FeedLag(ctx, rep.Lag())
		}
		log.InfoContext(ctx, "register feed ran", "pages", rep.Pages, "events", rep.Events, "sent", rep.Sent,
			"unknownPersons", rep.Unknown, "deadLettered", rep.DeadLettered, "cursor", rep.Cursor, "latest", rep.Latest, "held", rep.Held)
		res := ScheduleResult{"events": rep.Events, "noticesSent": rep.Sent, "unknownPersons": rep.Unknown,
			"deadLettered": rep.DeadLettered, "cursor": int(rep.Cursor), "lag": int(rep.Lag())}
		if registerfeed.IsThrottled(err) {
			// Not a failure: the next scheduled run continues from the cursor.
			log.WarnContext(ctx, "register throttled the feed; the next run continues", "err", err)
			return res, nil
		}
		return res, err
	}, nil
}

// register builds the Persontjenesten client, authorised by HelseID with
// the private key read from Parameter Store once per cold start.
func (e Env) register() (*persontjenesten.Client, error) {
	vals := map[string]string{}
	for _, k := range []string{"REGISTER_API_URL", "HELSEID_TOKEN_URL", "HELSEID_CLIENT_ID", "HELSEID_SCOPE", "HELSEID_KEY_PARAM"} {
		v, err := e.require(k)
		if err != nil {
			return nil, err
		}
		vals[k] = v
	}
	name := vals["HELSEID_KEY_PARAM"]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ssm.NewFromConfig(e.AWS).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read the HelseID key from SSM parameter %s: %w", name, err)
	}
	if out.Parameter == nil {
		return nil, fmt.Errorf("SSM parameter %s has no value", name)
	}
	key, err := helseid.ParseKey([]byte(aws.ToString(out.Parameter.Value)))
	if err != nil {
		return nil, fmt.Errorf("SSM parameter %s: %w", name, err)
	}
	hc, err := helseid.New(helseid.Config{
		TokenURL: vals["HELSEID_TOKEN_URL"], Audience: e.Getenv("HELSEID_AUDIENCE"),
		ClientID: vals["HELSEID_CLIENT_ID"], Scope: vals["HELSEID_SCOPE"],
	}, key)
	if err != nil {
		return nil, err
	}
	hc.HTTP = &http.Client{Timeout: 10 * time.Second}
	e.logger().Info("HelseID key loaded", "parameter", name, "kid", key.KeyID, "thumbprint", hc.Thumbprint())
	return persontjenesten.New(vals["REGISTER_API_URL"], hc), nil
}
