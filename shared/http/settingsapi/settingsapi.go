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
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	if h.ChildRecordAge <= 0 {
		h.ChildRecordAge = settings.DefaultChildPatientRecordAge
	}
	out := &h
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

// target resolves whose settings a request changes: the caller's, or a
// child's (by id in the body or by the person selector's reference) when the
// caller has parental responsibility and the child is under maxAge.
func (h *Handler) target(ctx context.Context, req events.APIGatewayV2HTTPRequest, childID, childRef string, maxAge int) (personkey.Key, settings.By, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return "", "", err
	}
	me := h.Keys.Key(caller.ID)
	var child personkey.Key
	switch {
	case childID != "" && childRef != "":
		return "", "", domain.Errorf(domain.EInvalid, "ambiguous_child", "Give child or childRef, not both.")
	case childID != "":
		id, err := h.IDs.Parse(childID)
		if err != nil {
			return "", "", domain.Errorf(domain.EInvalid, "invalid_child", "child is not a valid person id.")
		}
		child = h.Keys.Key(id)
	case childRef != "":
		k, ok := personkey.ParseRef(childRef)
		if !ok {
			return "", "", domain.Errorf(domain.EInvalid, "invalid_child", "childRef is not a valid reference.")
		}
		child = k
	default:
		return me, settings.BySelf, h.Settings.Alive(ctx, me)
	}
	if err := h.Settings.ChildOf(ctx, me, child, maxAge); err != nil {
		return "", "", err
	}
	return child, settings.ByParent, nil
}

func (h *Handler) get(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	key, _, err := h.target(ctx, req, "", req.QueryStringParameters["childRef"], settings.ChildAge)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Settings.Get(ctx, key)
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

func (h *Handler) block(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	t, blocked, err := decode(req, "blocked")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, by, err := h.target(ctx, req, t.Child, t.ChildRef, settings.ChildAge)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Settings.SetEmergencyBlockInPortal(ctx, key, blocked, by, caller.ID)
	return h.done(ctx, st, err, string(settings.EmergencyBlock))
}

func (h *Handler) record(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	t, enabled, err := decode(req, "enabled")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, by, err := h.target(ctx, req, t.Child, t.ChildRef, h.ChildRecordAge)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Settings.SetPatientRecordAccess(ctx, key, enabled, settings.Who{By: by, Channel: settings.Portal})
	return h.done(ctx, st, err, string(settings.PatientRecordAccess))
}

func (h *Handler) self(ctx context.Context, req events.APIGatewayV2HTTPRequest, t toggle) (personkey.Key, error) {
	if t.Child != "" || t.ChildRef != "" {
		return "", domain.Errorf(domain.EForbidden, "self_only", "This setting can only be changed by the person themself.")
	}
	key, _, err := h.target(ctx, req, "", "", 0)
	return key, err
}

func (h *Handler) scrAccess(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	t, enabled, err := decode(req, "enabled")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, err := h.self(ctx, req, t)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Settings.SetSCRAccess(ctx, key, enabled, settings.Who{By: settings.BySelf, Channel: settings.Portal})
	return h.done(ctx, st, err, string(settings.SCRAccess))
}

func (h *Handler) scrOptOut(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	t, optOut, err := decode(req, "optedOut")
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, err := h.self(ctx, req, t)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	who := settings.Who{By: settings.BySelf, Channel: settings.Portal}
	var st settings.State
	if optOut {
		st, err = h.Settings.OptOutSCR(ctx, key, who)
	} else {
		st, err = h.Settings.RestoreSCR(ctx, key, who)
	}
	return h.done(ctx, st, err, string(settings.SCROptOut))
}
