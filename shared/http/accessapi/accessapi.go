// Package accessapi answers the portal's services: "may the caller use
// service S for person P, and if not, why?" and keeps the usage log.
package accessapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteDecide      = "POST /v1/access/decisions"
	RouteUsageLog    = "GET /v1/usage-log"
	RouteLogin       = "POST /v1/usage-log/logins"
	DefaultRetention = 3 * 365 * 24 * time.Hour
)

// Store is what the handler reads and writes.
type Store interface {
	AccessRecords(ctx context.Context, actor, subject personkey.Key) (access.Records, error)
	AppendUsage(ctx context.Context, key personkey.Key, u access.Usage, retention time.Duration) error
	UsageLog(ctx context.Context, key personkey.Key, limit int, cursor string) ([]access.Usage, string, error)
}

// Handler serves the access routes.
type Handler struct {
	Store     Store
	Keys      *personkey.Keyer
	Now       func() time.Time
	NewID     func() string
	Retention time.Duration
	Log       *slog.Logger
	// Decided, if set, is told of every decision (for metrics).
	Decided func(ctx context.Context, d access.Decision)
	router  *httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	if h.Retention <= 0 {
		h.Retention = DefaultRetention
	}
	out := &h
	out.router = httpapi.NewRouter(h.Log)
	out.router.Route(RouteDecide, out.decide)
	out.router.Route(RouteUsageLog, out.usageLog)
	out.router.Route(RouteLogin, out.login)
	return out
}

// Handle is the Lambda entry point.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.router.Handle(ctx, req)
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

var refPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Subject resolves the represented person of a request: by id (whose birth
// date is known from the id), by person-selector reference, or the caller.
func Subject(keys *personkey.Keyer, caller nin.ID, id, ref string) (key personkey.Key, birth nin.Date, err error) {
	switch {
	case id != "" && ref != "":
		return "", nin.Date{}, domain.Errorf(domain.EInvalid, "ambiguous_subject", "Give subject or subjectRef, not both.")
	case id != "":
		p, err := nin.Parse(id)
		if err != nil {
			return "", nin.Date{}, domain.Errorf(domain.EInvalid, "invalid_subject", "subject is not a valid person id.")
		}
		return keys.Key(p), p.BirthDate(), nil
	case ref != "":
		if !refPattern.MatchString(ref) {
			return "", nin.Date{}, domain.Errorf(domain.EInvalid, "invalid_subject", "subjectRef is not a valid reference.")
		}
		return personkey.Key(ref), nin.Date{}, nil
	}
	return keys.Key(caller), caller.BirthDate(), nil
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
	svc, ok := access.Lookup(b.Service)
	if !ok {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "unknown_service", "The service is not in the catalogue.")
	}
	actor := h.Keys.Key(caller.ID)
	subject, birth, err := Subject(h.Keys, caller.ID, b.Subject, b.SubjectRef)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	recs, err := h.Store.AccessRecords(ctx, actor, subject)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	facts := access.Facts{Service: svc, Self: actor == subject, Subject: recs.Subject, Link: recs.Link, Grant: recs.Grant, Now: h.Now()}
	if birth != (nin.Date{}) {
		facts.Subject.Birth = birth
	}
	d := access.Decide(facts)
	if h.Decided != nil {
		h.Decided(ctx, d)
	}
	if d.Allowed && b.RecordUse {
		u := access.Usage{ID: h.NewID(), At: facts.Now, Kind: "use", Service: svc.ID, By: d.Role}
		if err := h.Store.AppendUsage(ctx, subject, u, h.Retention); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
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
	entries, next, err := h.Store.UsageLog(ctx, h.Keys.Key(caller.ID), limit, cursor)
	if errors.Is(err, domain.ErrInvalidCursor) {
		return events.APIGatewayV2HTTPResponse{}, domain.InvalidCursor()
	}
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
	u := access.Usage{ID: h.NewID(), At: h.Now(), Kind: "login", By: access.RoleSelf}
	if err := h.Store.AppendUsage(ctx, h.Keys.Key(caller.ID), u, h.Retention); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.NoContent()
}
