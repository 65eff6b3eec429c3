// Package httpapi adapts domain services to API Gateway HTTP API (payload
// format 2.0) events: routing, the caller's identity from the JWT claims,
// strict JSON bodies and RFC 9457 problem responses.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
)

// statusOf is the one table from domain error code to HTTP status.
var statusOf = map[domain.Code]int{
	domain.EInvalid:            http.StatusBadRequest,
	domain.EUnauthorized:       http.StatusUnauthorized,
	domain.EForbidden:          http.StatusForbidden,
	domain.ENotFound:           http.StatusNotFound,
	domain.EConflict:           http.StatusConflict,
	domain.EPreconditionFailed: http.StatusPreconditionFailed,
	domain.ETooLarge:           http.StatusRequestEntityTooLarge,
	domain.EMethodNotAllowed:   http.StatusMethodNotAllowed,
	domain.EUnsupportedMedia:   http.StatusUnsupportedMediaType,
	domain.EInternal:           http.StatusInternalServerError,
	domain.EUnavailable:        http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status for a domain error code.
func StatusOf(code domain.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ProblemTypeBase prefixes the reason to form the problem "type" URI.
const ProblemTypeBase = "https://privacy.helsenorge.example/problems/"

// Problem is an RFC 9457 problem details body. Code is our stable,
// machine-readable reason; clients switch on it, not on Title or Detail.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Code     string `json:"code"`
	Instance string `json:"instance,omitempty"`
}

// ProblemFor builds the problem body and status for err. Errors that are not
// *domain.Error are internal: their text is logged by the caller, never sent.
func ProblemFor(err error, requestID string) (Problem, map[string]any) {
	e, ok := domain.AsError(err)
	if !ok {
		e = &domain.Error{Code: domain.EInternal, Reason: "internal_error", Message: "The request could not be completed. Try again later."}
	}
	status := StatusOf(e.Code)
	p := Problem{
		Type:     ProblemTypeBase + e.Reason,
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   e.Message,
		Code:     e.Reason,
		Instance: requestIDURN(requestID),
	}
	return p, e.Extensions
}

func requestIDURN(id string) string {
	if id == "" {
		return ""
	}
	return "urn:request:" + id
}

// Error converts err into a problem+json response and logs it: internal
// errors at error level with their (person-id free) text, client errors at
// info level with only their reason.
func Error(ctx context.Context, log *slog.Logger, req events.APIGatewayV2HTTPRequest, err error) events.APIGatewayV2HTTPResponse {
	p, ext := ProblemFor(err, req.RequestContext.RequestID)
	if p.Status >= 500 {
		log.ErrorContext(ctx, "request failed", "route", req.RouteKey, "status", p.Status, "err", err)
	} else {
		log.InfoContext(ctx, "request rejected", "route", req.RouteKey, "status", p.Status, "code", p.Code)
	}
	body := map[string]any{}
	for k, v := range ext {
		body[k] = v
	}
	b, _ := json.Marshal(p)
	if len(body) > 0 {
		// Merge extension members into the problem object (RFC 9457 §3.2).
		var base map[string]any
		_ = json.Unmarshal(b, &base)
		for k, v := range base {
			body[k] = v
		}
		b, _ = json.Marshal(body)
	}
	headers := map[string]string{"Content-Type": "application/problem+json"}
	if p.Status == http.StatusMethodNotAllowed {
		if e, ok := domain.AsError(err); ok {
			if allow, ok := e.Extensions["allow"].([]string); ok {
				headers["Allow"] = strings.Join(allow, ", ")
			}
		}
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: p.Status, Headers: headers, Body: string(b)}
}
