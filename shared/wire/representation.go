package wire

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/agejob"
	"privacycore/shared/domain/representation"
	"privacycore/shared/http/accessapi"
	"privacycore/shared/http/representationapi"
)

// AccessAPI builds the access-decision and usage-log function.
func AccessAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	retention := access.DefaultRetention
	if v := env.Getenv("USAGE_LOG_RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 {
			return nil, fmt.Errorf("USAGE_LOG_RETENTION_DAYS must be a positive number of days, got %q", v)
		}
		retention = time.Duration(days) * 24 * time.Hour
	}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	m := env.Metrics()
	dec := &access.Decider{Records: store.Access, Usage: store.Usage, Keys: keys, IDs: rules, Now: env.Now, NewID: domain.NewID, Retention: retention,
		Decided: func(ctx context.Context, d access.Decision) { m.Decision(ctx, d.Allowed, string(d.Rule)) }}
	h := accessapi.New(accessapi.Handler{Access: dec, Log: env.logger()})
	return env.checkCaller(rules, h.Handle), nil
}

// RepresentationAPI builds the powers-of-attorney and person-selector function.
func RepresentationAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	svc := &representation.Service{Grants: store.Grants, Children: store.Relations, Records: store.Access, Keys: keys, IDs: rules, Now: env.Now, NewID: domain.NewID}
	h := representationapi.New(representationapi.Handler{Service: svc, Now: env.Now, Log: env.logger()})
	return env.checkCaller(rules, h.Handle), nil
}

// AgeTransitions builds the daily job that ends parents' access at 16.
func AgeTransitions(env Env) (ScheduleHandler, error) {
	store, err := env.store()
	if err != nil {
		return nil, err
	}
	j := &agejob.Job{Store: store.AgeJob, Now: env.Now, Log: env.logger()}
	return func(ctx context.Context) (ScheduleResult, error) {
		sum, err := j.Run(ctx)
		return ScheduleResult{"days": sum.Days, "linksEnded": sum.Ended, "linksRestricted": sum.Restricted}, err
	}, nil
}
