// Package representationapi serves powers of attorney (give, change, end,
// list both ways) and the person selector (whom may I act for, with what).
package representationapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain/access"
	"privacycore/shared/domain/poa"
	"privacycore/shared/domain/representation"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteGrant     = "POST /v1/powers-of-attorney"
	RouteList      = "GET /v1/powers-of-attorney"
	RouteChange    = "PATCH /v1/powers-of-attorney/{id}"
	RouteTerminate = "DELETE /v1/powers-of-attorney/{id}"
	RouteConfirm   = "POST /v1/powers-of-attorney/{id}/confirmation"
	RouteSelector  = "GET /v1/representation/people"
)

// Handler serves the representation routes.
type Handler struct {
	Service *representation.Service
	Now     func() time.Time // for a grant's status in responses
	Log     *slog.Logger
	// Router serves the routes; its Handle is the Lambda entry point.
	*httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.Router = httpapi.NewRouter(h.Log, httpapi.Routes{
		RouteGrant:     out.grant,
		RouteList:      out.list,
		RouteChange:    out.change,
		RouteTerminate: out.terminate,
		RouteConfirm:   out.confirm,
		RouteSelector:  out.selector,
	})
	return out
}

type grantRequest struct {
	Grantee   string        `json:"grantee"`
	Areas     []access.Area `json:"areas"`
	ValidFrom *time.Time    `json:"validFrom,omitempty"`
	ValidTo   time.Time     `json:"validTo"`
}

type changeRequest struct {
	Areas     []access.Area `json:"areas,omitempty"`
	ValidFrom *time.Time    `json:"validFrom,omitempty"`
	ValidTo   *time.Time    `json:"validTo,omitempty"`
}

// grantBody never names the other person by id: only by reference (their
// person key), which is what the person selector and decisions take.
type grantBody struct {
	ID          string        `json:"id"`
	Areas       []access.Area `json:"areas"`
	ValidFrom   time.Time     `json:"validFrom"`
	ValidTo     time.Time     `json:"validTo"`
	Status      string        `json:"status"`
	Version     int64         `json:"version"`
	GranteeRef  string        `json:"granteeRef,omitempty"`
	GrantorRef  string        `json:"grantorRef,omitempty"`
	CreatedAt   time.Time     `json:"createdAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
	ConfirmedAt time.Time     `json:"confirmedAt"`
	// NeedsConfirmation (given side): services the grant covers only once
	// the grantor confirms it again.
	NeedsConfirmation []string `json:"needsConfirmation,omitempty"`
}

func (h *Handler) body(g poa.Grant, given bool) grantBody {
	b := grantBody{ID: g.ID, Areas: g.Areas, ValidFrom: g.ValidFrom, ValidTo: g.ValidTo, Status: g.Status(h.Now()), Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	b.ConfirmedAt = g.ConfirmedAt
	if given {
		b.GranteeRef = string(g.Grantee)
		b.NeedsConfirmation = g.NeedsConfirmation()
	} else {
		b.GrantorRef = string(g.Grantor)
	}
	return b
}

// validityFields answer invalid_validity, like the other validity rules,
// when they hold no valid date-time (2030-02-30 is not a date).
var validityFields = map[string]string{"validFrom": "invalid_validity", "validTo": "invalid_validity"}

func (h *Handler) grant(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var b grantRequest
	if err := httpapi.DecodeJSONFields(req, &b, validityFields); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	g, err := h.Service.Grant(ctx, representation.GrantRequest{Grantor: caller.ID, Grantee: b.Grantee, Areas: b.Areas, ValidFrom: b.ValidFrom, ValidTo: b.ValidTo})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "power of attorney given", "grant", g.ID, "areas", len(g.Areas))
	return httpapi.JSON(http.StatusCreated, h.body(g, true), "Location", "/v1/powers-of-attorney/"+g.ID)
}

func (h *Handler) list(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	given, received, err := h.Service.List(ctx, caller.ID)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := struct {
		Given    []grantBody `json:"given"`
		Received []grantBody `json:"received"`
	}{Given: []grantBody{}, Received: []grantBody{}}
	for _, g := range given {
		out.Given = append(out.Given, h.body(g, true))
	}
	for _, g := range received {
		out.Received = append(out.Received, h.body(g, false))
	}
	return httpapi.JSON(http.StatusOK, out)
}

func (h *Handler) change(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var b changeRequest
	if err := httpapi.DecodeJSONFields(req, &b, validityFields); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	g, err := h.Service.Change(ctx, caller.ID, req.PathParameters["id"], representation.Change{Areas: b.Areas, ValidFrom: b.ValidFrom, ValidTo: b.ValidTo})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, h.body(g, true))
}

func (h *Handler) terminate(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	g, err := h.Service.End(ctx, caller.ID, req.PathParameters["id"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "power of attorney ended", "grant", g.ID)
	return httpapi.NoContent()
}

// confirm confirms a grant the caller gave again (no body).
func (h *Handler) confirm(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	g, err := h.Service.Confirm(ctx, caller.ID, req.PathParameters["id"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "power of attorney confirmed", "grant", g.ID)
	return httpapi.JSON(http.StatusOK, h.body(g, true))
}

type personBody struct {
	Ref      string     `json:"ref"`
	Relation string     `json:"relation"` // self, child, grantor
	Age      *int       `json:"age,omitempty"`
	ValidTo  *time.Time `json:"validTo,omitempty"`
	Services []string   `json:"services"`
	// NeedsConfirmation (grantors): services the grantor must confirm the
	// power of attorney again for.
	NeedsConfirmation []string `json:"needsConfirmation,omitempty"`
}

// selector lists whom the caller may act for — themself, children under 16
// and valid grantors — each with the services available now.
func (h *Handler) selector(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	people, err := h.Service.People(ctx, caller.ID)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := make([]personBody, 0, len(people))
	for _, p := range people {
		out = append(out, personBody{Ref: string(p.Ref), Relation: p.Relation, Age: p.Age, ValidTo: p.ValidTo, Services: p.Services, NeedsConfirmation: p.NeedsConfirmation})
	}
	return httpapi.JSON(http.StatusOK, struct {
		People []personBody `json:"people"`
	}{out})
}
