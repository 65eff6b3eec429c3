// Package sectorapi serves the health sector's systems (machine clients,
// scope sector:read): decisions on health personnel's access, and the
// person's settings and choices as FHIR R4 Consent resources. The person id
// travels in the request body only; it is never logged or counted.
package sectorapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/sectoraccess"
	"privacycore/shared/domain/sectoraccess/fhirconsent"
	"privacycore/shared/http/httpapi"
	"privacycore/shared/platform/metrics"
)

// The routes, as declared in template.yaml.
const (
	RouteDecide   = "POST /v1/sector/decisions"
	RouteConsents = "POST /v1/sector/fhir/Consent/_search"
)

// FHIRJSON is the media type of FHIR resources in JSON.
const FHIRJSON = "application/fhir+json"

// Handler serves the sector routes.
type Handler struct {
	Decider *sectoraccess.Decider
	IDs     nin.Rules // which person ids the stack accepts in bodies
	Metrics *metrics.Emitter
	Log     *slog.Logger
	*httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.Router = httpapi.NewRouter(h.Log, httpapi.Routes{
		RouteDecide:   out.decide,
		RouteConsents: out.consents,
	})
	return out
}

func (h *Handler) person(s string) (nin.ID, error) {
	if s == "" {
		return nin.ID{}, domain.Errorf(domain.EInvalid, "missing_field", "The field %q is required.", "person")
	}
	id, err := h.IDs.Parse(s)
	if err != nil {
		return nin.ID{}, domain.Errorf(domain.EInvalid, "invalid_person", "person is not a valid person id.")
	}
	return id, nil
}

func (h *Handler) decide(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	client, err := httpapi.SectorFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var b struct {
		Person         string `json:"person"`
		Professional   string `json:"professional"`
		Resource       string `json:"resource"`
		PrescriptionID string `json:"prescriptionId"`
		Emergency      bool   `json:"emergency"`
	}
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id, err := h.person(b.Person)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	q, err := sectoraccess.ParseQuestion(b.Professional, b.Resource, b.PrescriptionID, b.Emergency)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	d, err := h.Decider.Decide(ctx, id, q)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Metrics.SectorDecision(ctx, d.Allowed, string(q.Resource), string(d.Rule))
	h.Log.InfoContext(ctx, "sector decision", "client", client.ID, "resource", string(q.Resource), "allowed", d.Allowed, "rule", string(d.Rule))
	return httpapi.JSON(http.StatusOK, struct {
		Allowed bool   `json:"allowed"`
		Rule    string `json:"rule"`
	}{d.Allowed, string(d.Rule)})
}

func (h *Handler) consents(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	client, err := httpapi.SectorFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var b struct {
		Person string `json:"person"`
	}
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id, err := h.person(b.Person)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, st, err := h.Decider.Export(ctx, id)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	bundle := fhirconsent.Render(key, st)
	body, err := json.Marshal(bundle)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "sector consents read", "client", client.ID, "resources", bundle.Total)
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: string(body),
		Headers: map[string]string{"Content-Type": FHIRJSON, "Cache-Control": "no-store"}}, nil
}
