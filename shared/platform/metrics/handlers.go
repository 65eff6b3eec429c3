package metrics

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPHandler is the signature of an API Gateway HTTP API function.
type HTTPHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// SQSHandler is the signature of an SQS consumer with partial batch failures.
type SQSHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// HTTP wraps h so every request is counted and timed per route key and
// status class. The route is the key API Gateway matched (a route declared
// in template.yaml), never the raw path, so the dimension stays a closed set.
func (e *Emitter) HTTP(h HTTPHandler) HTTPHandler {
	if e == nil {
		return h
	}
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		status := resp.StatusCode
		if err != nil {
			status = http.StatusInternalServerError // what API Gateway answers
		}
		e.Request(ctx, routeOf(req.RouteKey), status, time.Since(start))
		return resp, err
	}
}

// SQS wraps a consumer so every batch reports how many messages it held and
// how many failed. A returned error fails the whole batch.
func (e *Emitter) SQS(function string, h SQSHandler) SQSHandler {
	if e == nil {
		return h
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		resp, err := h(ctx, ev)
		failed := len(resp.BatchItemFailures)
		if err != nil {
			failed = len(ev.Records)
		}
		e.Batch(ctx, function, len(ev.Records), failed)
		return resp, err
	}
}

// routeOf keeps a route key only if it has the shape of a declared route.
func routeOf(key string) string {
	method, path, ok := strings.Cut(key, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#") {
		return "unmatched"
	}
	return key
}
