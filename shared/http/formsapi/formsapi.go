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
	Store Store
	Queue Queue
	Keys  *personkey.Keyer
	Now   func() time.Time
	Log   *slog.Logger
	// Limits bound a form's received date (FORM_MAX_AGE_DAYS).
	Limits forms.Limits
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
	Operator     string       `json:"operator"`
	Kind         forms.Kind   `json:"kind"`
	Status       forms.Status `json:"status"`
	Reason       string       `json:"reason,omitempty"`
	ReceivedDate string       `json:"receivedDate"`
	SubmittedAt  time.Time    `json:"submittedAt"`
	DecidedAt    *time.Time   `json:"decidedAt,omitempty"`
}

func toBody(r forms.Record) statusBody {
	b := statusBody{FormID: r.FormID, Operator: string(r.Operator), Kind: r.Kind, Status: r.Status, Reason: r.Reason, ReceivedDate: r.ReceivedDate, SubmittedAt: r.SubmittedAt}
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
	op, err := operator(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var s forms.Submission
	if err := httpapi.DecodeJSON(req, &s); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	now := h.Now().UTC()
	work, err := s.Validate(h.Keys, now, op, h.Limits)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	// The same form keyed in again by another operator is the same form:
	// the digest leaves the operator out, the record keeps the first one.
	anon := work
	anon.Operator = ""
	sum := sha256.Sum256([]byte(anon.Encode()))
	rec, created, err := h.Store.CreateForm(ctx, forms.Record{FormID: s.FormID, Operator: op, Kind: s.Kind, ReceivedDate: s.ReceivedDate, SubmittedAt: now, Digest: hex.EncodeToString(sum[:])})
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
	h.Log.InfoContext(ctx, "form submitted", "form", s.FormID, "operator", string(op), "kind", string(s.Kind), "new", created)
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	return httpapi.JSON(status, toBody(rec), "Location", "/v1/forms/"+s.FormID)
}

func (h *Handler) status(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if _, err := operator(req); err != nil {
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

// operator is the identity of the operator calling: a forms:write token
// without a usable subject is refused, so every form has someone
// accountable for it.
func operator(req events.APIGatewayV2HTTPRequest) (forms.Operator, error) {
	sub, err := httpapi.OperatorSubject(req)
	if err != nil {
		return "", err
	}
	return forms.ParseOperator(sub)
}
