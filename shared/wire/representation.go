package wire

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/agejob"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/accessapi"
	"privacycore/shared/http/representationapi"
)

// AccessAPI builds the access-decision and usage-log function.
func AccessAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	retention := accessapi.DefaultRetention
	if v := env.Getenv("USAGE_LOG_RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 {
			return nil, fmt.Errorf("USAGE_LOG_RETENTION_DAYS must be a positive number of days, got %q", v)
		}
		retention = time.Duration(days) * 24 * time.Hour
	}
	m := env.Metrics()
	h := accessapi.New(accessapi.Handler{Store: accessStore{store.Access, store.Usage}, Keys: keys, Now: env.Now, NewID: domain.NewID, Retention: retention, Log: env.logger(),
		Decided: func(ctx context.Context, d access.Decision) { m.Decision(ctx, d.Allowed, string(d.Rule)) }})
	return h.Handle, nil
}

// RepresentationAPI builds the powers-of-attorney and person-selector function.
func RepresentationAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	h := representationapi.New(representationapi.Handler{Store: grantStore{store.Grants, store.Relations, store.Access}, Keys: keys, Now: env.Now, NewID: domain.NewID, Log: env.logger()})
	return h.Handle, nil
}

// AgeTransitions builds the daily job that ends parents' access at 16.
func AgeTransitions(env Env) (ScheduleHandler, error) {
	store, err := env.store()
	if err != nil {
		return nil, err
	}
	j := &agejob.Job{Store: store.AgeJob, Now: env.Now, Log: env.logger()}
	return func(ctx context.Context) error {
		_, err := j.Run(ctx)
		return err
	}, nil
}

// accessStore and grantStore put the stores an API handler reads together
// until its rules move into a domain service.
type accessStore struct {
	dynamo.AccessStore
	dynamo.UsageStore
}

type grantStore struct {
	dynamo.GrantStore
	dynamo.RelationStore
	dynamo.AccessStore
}
