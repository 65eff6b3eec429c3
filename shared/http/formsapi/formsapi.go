// Package formsapi is the operators' route for paper forms: validate, store
// as received, enqueue; and read a form's status.
package formsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteSubmit = "POST /v1/forms"
	RouteStatus = "GET /v1/forms/{formId}"
)

// Store keeps form records.
type Store interface {
	CreateForm(ctx context.Context, r forms.Record) (forms.Record, bool, error)
	Form(ctx context.Context, id string) (forms.Record, bool, error)
}

// Queue sends work to the forms worker.
type Queue interface {
	Send(ctx context.Context, body string) error
}

// Handler serves the operators' routes.
type Handler struct {
	Store  Store
	Queue  Queue
	Keys   *personkey.Keyer
	IDs    nin.Rules // which person ids the stack accepts in bodies
	Now    func() time.Time
	Log    *slog.Logger
	router *httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.router = httpapi.NewRouter(h.Log)
	out.router.Route(RouteSubmit, out.submit)
	out.router.Route(RouteStatus, out.status)
	return out
}

// Handle is the Lambda entry point.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.router.Handle(ctx, req)
}

type statusBody struct {
	FormID       string       `json:"formId"`
	Kind         forms.Kind   `json:"kind"`
	Status       forms.Status `json:"status"`
	Reason       string       `json:"reason,omitempty"`
	ReceivedDate string       `json:"receivedDate"`
	SubmittedAt  time.Time    `json:"submittedAt"`
	DecidedAt    *time.Time   `json:"decidedAt,omitempty"`
}

func toBody(r forms.Record) statusBody {
	b := statusBody{FormID: r.FormID, Kind: r.Kind, Status: r.Status, Reason: r.Reason, ReceivedDate: r.ReceivedDate, SubmittedAt: r.SubmittedAt}
	if !r.DecidedAt.IsZero() {
		t := r.DecidedAt
		b.DecidedAt = &t
	}
	return b
}

// submit validates, records and enqueues a form. The same form again is
// answered with its current status and has no second effect; a different
// form under a used id is a conflict. A form still "received" is enqueued
// again, so a crash between storing and sending heals on resubmission.
func (h *Handler) submit(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if err := httpapi.OperatorFrom(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var s forms.Submission
	if err := httpapi.DecodeJSON(req, &s); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	now := h.Now().UTC()
	work, err := s.Validate(h.Keys, h.IDs, now)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	sum := sha256.Sum256([]byte(work.Encode()))
	rec, created, err := h.Store.CreateForm(ctx, forms.Record{FormID: s.FormID, Kind: s.Kind, ReceivedDate: s.ReceivedDate, SubmittedAt: now, Digest: hex.EncodeToString(sum[:])})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if !created && rec.Digest != hex.EncodeToString(sum[:]) {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EConflict, "form_id_conflict", "A different form with this id was submitted before.")
	}
	if rec.Status == forms.Received {
		if err := h.Queue.Send(ctx, work.Encode()); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	h.Log.InfoContext(ctx, "form submitted", "form", s.FormID, "kind", string(s.Kind), "new", created)
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	return httpapi.JSON(status, toBody(rec), "Location", "/v1/forms/"+s.FormID)
}

func (h *Handler) status(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if err := httpapi.OperatorFrom(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id := req.PathParameters["formId"]
	if !forms.ValidID(id) {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.ENotFound, "form_not_found", "No form with this id.")
	}
	rec, ok, err := h.Store.Form(ctx, id)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if !ok {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.ENotFound, "form_not_found", "No form with this id.")
	}
	return httpapi.JSON(http.StatusOK, toBody(rec))
}
