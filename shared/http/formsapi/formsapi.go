// Package formsapi is the operators' route for paper forms: validate, store
// as received, enqueue; and read a form's status.
package formsapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain/forms"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteSubmit = "POST /v1/forms"
	RouteStatus = "GET /v1/forms/{formId}"
)

// Handler serves the operators' routes.
type Handler struct {
	Forms *forms.Intake
	Log   *slog.Logger
	// Router serves the routes; its Handle is the Lambda entry point.
	*httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.Router = httpapi.NewRouter(h.Log, httpapi.Routes{
		RouteSubmit: out.submit,
		RouteStatus: out.status,
	})
	return out
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

// submit takes a form in (see forms.Intake.Submit): 202 when new, 200
// with the current status when the same form comes again.
func (h *Handler) submit(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	op, err := operator(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var s forms.Submission
	if err := httpapi.DecodeJSON(req, &s); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	rec, created, err := h.Forms.Submit(ctx, op, s)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
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
	rec, err := h.Forms.Status(ctx, req.PathParameters["formId"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
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
