// Package settingsapi serves the privacy settings: emergency block, patient
// record access and the summary care record, for the caller and, where the
// sources allow, for the caller's child.
package settingsapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteGet       = "GET /v1/privacy-settings"
	RouteBlock     = "PUT /v1/privacy-settings/emergency-block"
	RouteRecord    = "PUT /v1/privacy-settings/patient-record-access"
	RouteSCRAccess = "PUT /v1/privacy-settings/summary-care-record/access"
	RouteSCROptOut = "PUT /v1/privacy-settings/summary-care-record/opt-out"
)

// Handler serves the settings routes.
type Handler struct {
	Settings *settings.Service
	Keys     *personkey.Keyer
	IDs      nin.Rules // which person ids the stack accepts in bodies
	// ChildRecordAge is the age under which a parent may change a child's
	// patient-record access (default 16).
	ChildRecordAge int
	Log            *slog.Logger
	// Router serves the routes; its Handle is the Lambda entry point.
	*httpapi.Router
	portal *settings.PortalService
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	if h.ChildRecordAge <= 0 {
		h.ChildRecordAge = settings.DefaultChildPatientRecordAge
	}
	out := &h
	out.portal = &settings.PortalService{Service: h.Settings, Keys: h.Keys, IDs: h.IDs, ChildRecordAge: h.ChildRecordAge}
	out.Router = httpapi.NewRouter(h.Log, httpapi.Routes{
		RouteGet:       out.get,
		RouteBlock:     out.block,
		RouteRecord:    out.record,
		RouteSCRAccess: out.scrAccess,
		RouteSCROptOut: out.scrOptOut,
	})
	return out
}

type scrBody struct {
	Access          bool       `json:"access"`
	OptedOut        bool       `json:"optedOut"`
	RestorableUntil *time.Time `json:"restorableUntil,omitempty"`
	Generation      int        `json:"generation"`
}

type stateBody struct {
	EmergencyBlock      bool    `json:"emergencyBlock"`
	PatientRecordAccess bool    `json:"patientRecordAccess"`
	SummaryCareRecord   scrBody `json:"summaryCareRecord"`
	Version             int64   `json:"version"`
}

func body(st settings.State) stateBody {
	b := stateBody{EmergencyBlock: st.EmergencyBlock, PatientRecordAccess: !st.PatientRecordRemoved, Version: st.Version,
		SummaryCareRecord: scrBody{Access: !st.SCRAccessRemoved, OptedOut: st.SCROptedOut, Generation: st.SCRGeneration}}
	if st.SCROptedOut {
		t := st.RestorableUntil()
		b.SummaryCareRecord.RestorableUntil = &t
	}
	return b
}

// request is who asks, from the token, and the child named, if any.
func request(req events.APIGatewayV2HTTPRequest, child, childRef string) (settings.Request, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return settings.Request{}, err
	}
	return settings.Request{Caller: caller.ID, Child: child, ChildRef: childRef}, nil
}

func (h *Handler) get(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r, err := request(req, "", req.QueryStringParameters["childRef"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.portal.Get(ctx, r)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, body(st))
}

type toggle struct {
	Blocked  *bool  `json:"blocked,omitempty"`
	Enabled  *bool  `json:"enabled,omitempty"`
	OptedOut *bool  `json:"optedOut,omitempty"`
	Child    string `json:"child,omitempty"`
	ChildRef string `json:"childRef,omitempty"`
}

func decode(req events.APIGatewayV2HTTPRequest, field string) (toggle, bool, error) {
	var t toggle
	if err := httpapi.DecodeJSON(req, &t); err != nil {
		return t, false, err
	}
	v := map[string]*bool{"blocked": t.Blocked, "enabled": t.Enabled, "optedOut": t.OptedOut}
	for name, p := range v {
		if name != field && p != nil {
			return t, false, domain.Errorf(domain.EInvalid, "unknown_field", "The request body has a field this route does not accept.")
		}
	}
	if v[field] == nil {
		return t, false, domain.Errorf(domain.EInvalid, "missing_field", "The field %q is required.", field)
	}
	return t, *v[field], nil
}

func (h *Handler) done(ctx context.Context, st settings.State, err error, what string) (events.APIGatewayV2HTTPResponse, error) {
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "privacy setting changed", "setting", what, "version", st.Version)
	return httpapi.JSON(http.StatusOK, body(st))
}

// set decodes the body's field and the child it names, then makes the
// one portal call.
func (h *Handler) set(ctx context.Context, req events.APIGatewayV2HTTPRequest, field string, what settings.Setting,
	call func(context.Context, settings.Request, bool) (settings.State, error)) (events.APIGatewayV2HTTPResponse, error) {
	t, v, err := decode(req, field)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	r, err := request(req, t.Child, t.ChildRef)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := call(ctx, r, v)
	return h.done(ctx, st, err, string(what))
}

func (h *Handler) block(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.set(ctx, req, "blocked", settings.EmergencyBlock, h.portal.SetEmergencyBlock)
}

func (h *Handler) record(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.set(ctx, req, "enabled", settings.PatientRecordAccess, h.portal.SetPatientRecordAccess)
}

func (h *Handler) scrAccess(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.set(ctx, req, "enabled", settings.SCRAccess, h.portal.SetSCRAccess)
}

func (h *Handler) scrOptOut(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.set(ctx, req, "optedOut", settings.SCROptOut, h.portal.SetSCROptOut)
}
