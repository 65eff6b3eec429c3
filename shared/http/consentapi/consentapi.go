// Package consentapi is the HTTP face of the consent rules: read, give or
// change, withdraw, and history, for the authenticated person only.
package consentapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/http/httpapi"
)

// The routes this handler serves, as declared in template.yaml.
const (
	RouteGet      = "GET /v1/consent"
	RoutePut      = "PUT /v1/consent"
	RouteWithdraw = "DELETE /v1/consent"
	RouteHistory  = "GET /v1/consent/history"
	RouteReceipt  = "GET /v1/consent/receipts/{id}"
)

// ReceiptPath is where a deletion receipt is read (the 202's Location).
func ReceiptPath(id string) string { return "/v1/consent/receipts/" + id }

// Handler serves the consent routes.
type Handler struct {
	Consent *consent.Service
	Keys    *personkey.Keyer
	Log     *slog.Logger
	// Metrics, if set, counts consent changes by action and level.
	Metrics Metrics
	// Router serves the routes; its Handle is the Lambda entry point.
	*httpapi.Router
}

// Metrics counts consent changes (package metrics implements it).
type Metrics interface {
	Consent(ctx context.Context, action, level string)
}

// New returns a handler with its routes registered.
func New(svc *consent.Service, keys *personkey.Keyer, log *slog.Logger) *Handler {
	h := &Handler{Consent: svc, Keys: keys, Log: log}
	h.Router = httpapi.NewRouter(log, httpapi.Routes{RouteGet: h.get, RoutePut: h.put, RouteWithdraw: h.withdraw, RouteHistory: h.history, RouteReceipt: h.receipt})
	return h
}

type stateBody struct {
	Status        consent.Status  `json:"status"`
	Level         consent.Level   `json:"level,omitempty"`
	PatientTravel bool            `json:"patientTravel"`
	Version       int64           `json:"version"`
	UpdatedAt     *time.Time      `json:"updatedAt,omitempty"`
	Channel       consent.Channel `json:"channel,omitempty"`
}

type putBody struct {
	Level         consent.Level `json:"level"`
	PatientTravel bool          `json:"patientTravel"`
}

type receiptBody struct {
	ID          string         `json:"id"`
	Reason      consent.Reason `json:"reason"`
	Status      string         `json:"status"`
	StartedAt   time.Time      `json:"startedAt"`
	CompletedAt *time.Time     `json:"completedAt,omitempty"`
	Deleted     map[string]int `json:"deleted"`
}

type eventBody struct {
	ID            string          `json:"id"`
	At            time.Time       `json:"at"`
	Action        consent.Action  `json:"action"`
	Level         consent.Level   `json:"level,omitempty"`
	PatientTravel bool            `json:"patientTravel"`
	Channel       consent.Channel `json:"channel"`
	Version       int64           `json:"version"`
	// FormID names the paper form behind the event; the operator who keyed
	// it in is never shown to the citizen.
	FormID string `json:"formId,omitempty"`
}

type historyBody struct {
	Items []eventBody `json:"items"`
	Next  string      `json:"next,omitempty"`
}

func (h *Handler) person(req events.APIGatewayV2HTTPRequest) (consent.Person, error) {
	c, err := httpapi.CallerFrom(req)
	if err != nil {
		return consent.Person{}, err
	}
	return consent.Person{Key: h.Keys.Key(c.ID), ID: c.ID}, nil
}

func (h *Handler) get(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p, err := h.person(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Consent.Get(ctx, p)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return stateResponse(http.StatusOK, st)
}

func (h *Handler) put(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p, err := h.person(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var b putBody
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	ifMatch, err := httpapi.IfMatch(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Consent.Set(ctx, p, consent.Change{Level: b.Level, PatientTravel: b.PatientTravel, Channel: consent.ChannelPortal, IfMatch: ifMatch})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "consent set", "level", string(st.Level), "version", st.Version)
	if h.Metrics != nil {
		h.Metrics.Consent(ctx, "set", string(st.Level))
	}
	return stateResponse(http.StatusOK, st)
}

func (h *Handler) withdraw(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p, err := h.person(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if req.Body != "" {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "unexpected_body", "This route takes no request body.")
	}
	confirm := false
	if v, ok := req.QueryStringParameters["confirmCascade"]; ok {
		if confirm, err = strconv.ParseBool(v); err != nil || (v != "true" && v != "false") {
			return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "invalid_query", "confirmCascade must be true or false.")
		}
	}
	ifMatch, err := httpapi.IfMatch(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	r, err := h.Consent.Withdraw(ctx, p, consent.Withdrawal{Channel: consent.ChannelPortal, ConfirmCascade: confirm, IfMatch: ifMatch})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "consent withdrawn", "receipt", r.ID, "status", string(r.Status))
	if h.Metrics != nil {
		h.Metrics.Consent(ctx, "withdraw", "")
	}
	if r.Status != consent.ReceiptDone {
		// The consent is withdrawn; the erase goes on in the background.
		return httpapi.JSON(http.StatusAccepted, toReceiptBody(r), "Location", ReceiptPath(r.ID))
	}
	return httpapi.JSON(http.StatusOK, toReceiptBody(r))
}

func (h *Handler) receipt(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p, err := h.person(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	r, err := h.Consent.Receipt(ctx, p, req.PathParameters["id"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, toReceiptBody(r))
}

func (h *Handler) history(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p, err := h.person(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	limit, cursor, err := httpapi.Page(req, 20)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	evs, next, err := h.Consent.History(ctx, p, limit, cursor)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := historyBody{Items: make([]eventBody, 0, len(evs)), Next: next}
	for _, e := range evs {
		out.Items = append(out.Items, eventBody{ID: e.ID, At: e.At, Action: e.Action, Level: e.Level, PatientTravel: e.PatientTravel, Channel: e.Channel, Version: e.Version, FormID: e.FormID})
	}
	return httpapi.JSON(http.StatusOK, out)
}

func stateResponse(status int, st consent.State) (events.APIGatewayV2HTTPResponse, error) {
	b := stateBody{Status: st.Status, Level: st.Level, PatientTravel: st.PatientTravel, Version: st.Version, Channel: st.Channel}
	if !st.UpdatedAt.IsZero() {
		t := st.UpdatedAt
		b.UpdatedAt = &t
	}
	return httpapi.JSON(status, b, "ETag", httpapi.ETag(st.Version))
}

func toReceiptBody(r consent.Receipt) receiptBody {
	b := receiptBody{ID: r.ID, Reason: r.Reason, Status: string(r.Status), StartedAt: r.StartedAt, Deleted: r.Deleted}
	if !r.CompletedAt.IsZero() {
		t := r.CompletedAt
		b.CompletedAt = &t
	}
	if b.Deleted == nil {
		b.Deleted = map[string]int{}
	}
	return b
}
