// Package accessapi answers the portal's services: "may the caller use
// service S for person P, and if not, why?" and keeps the usage log.
package accessapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteDecide   = "POST /v1/access/decisions"
	RouteUsageLog = "GET /v1/usage-log"
	RouteLogin    = "POST /v1/usage-log/logins"
)

// Handler serves the access routes.
type Handler struct {
	Access *access.Decider
	Log    *slog.Logger
	// Router serves the routes; its Handle is the Lambda entry point.
	*httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.Router = httpapi.NewRouter(h.Log, httpapi.Routes{
		RouteDecide:   out.decide,
		RouteUsageLog: out.usageLog,
		RouteLogin:    out.login,
	})
	return out
}

type decideBody struct {
	Service string `json:"service"`
	// Subject is the represented person's id; SubjectRef is the reference the
	// person selector gave. Neither means the caller themself.
	Subject    string `json:"subject,omitempty"`
	SubjectRef string `json:"subjectRef,omitempty"`
	// RecordUse appends the use to the subject's usage log when allowed.
	RecordUse bool `json:"recordUse,omitempty"`
}

type decisionBody struct {
	Allowed bool        `json:"allowed"`
	Rule    access.Rule `json:"rule"`
	Because access.Rule `json:"because,omitempty"`
	Role    access.Role `json:"role,omitempty"`
	Service string      `json:"service"`
}

func (h *Handler) decide(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var b decideBody
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	d, svc, err := h.Access.Decide(ctx, access.Question{Caller: caller.ID, Service: b.Service, SubjectID: b.Subject, SubjectRef: b.SubjectRef, RecordUse: b.RecordUse})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "access decided", "service", svc.ID, "allowed", d.Allowed, "rule", string(d.Rule), "role", string(d.Role))
	return httpapi.JSON(http.StatusOK, decisionBody{Allowed: d.Allowed, Rule: d.Rule, Because: d.Because, Role: d.Role, Service: svc.ID})
}

type usageBody struct {
	At      time.Time   `json:"at"`
	Kind    string      `json:"kind"`
	Service string      `json:"service,omitempty"`
	By      access.Role `json:"by,omitempty"`
}

func (h *Handler) usageLog(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	limit, cursor, err := httpapi.Page(req, 50)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	entries, next, err := h.Access.LogOf(ctx, caller.ID, req.QueryStringParameters["childRef"], limit, cursor)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := struct {
		Items []usageBody `json:"items"`
		Next  string      `json:"next,omitempty"`
	}{Items: make([]usageBody, 0, len(entries)), Next: next}
	for _, e := range entries {
		out.Items = append(out.Items, usageBody{At: e.At, Kind: e.Kind, Service: e.Service, By: e.By})
	}
	return httpapi.JSON(http.StatusOK, out)
}

// login records that the caller logged in (the portal reports it).
func (h *Handler) login(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if req.Body != "" {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "unexpected_body", "This route takes no request body.")
	}
	if err := h.Access.Login(ctx, caller.ID); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.NoContent()
}
