// Package sectorsettingsapi serves the citizen's routes for the settings
// that bind the health sector: health personnel's access to the
// Prescription Intermediary and the summary care record, and research and
// registry choices; for the caller and, where the catalogue gives parents
// the service, for the caller's child. Never for a grantor: a power of
// attorney gives no say over the grantor's settings.
package sectorsettingsapi

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/sectoraccess"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteGet           = "GET /v1/health-personnel-access"
	RoutePrescriptions = "PUT /v1/health-personnel-access/prescriptions"
	RouteSCR           = "PUT /v1/health-personnel-access/summary-care-record"
	RouteHistory       = "GET /v1/health-personnel-access/history"
	RouteResearch      = "GET /v1/research-and-registries"
	RouteSetResearch   = "PUT /v1/research-and-registries/{purpose}"
)

// Handler serves the routes.
type Handler struct {
	Service *sectoraccess.Service
	Keys    *personkey.Keyer
	IDs     nin.Rules // which person ids the stack accepts in bodies
	Log     *slog.Logger
	*httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.Router = httpapi.NewRouter(h.Log, httpapi.Routes{
		RouteGet:           out.get,
		RoutePrescriptions: out.setPrescriptions,
		RouteSCR:           out.setSCR,
		RouteHistory:       out.history,
		RouteResearch:      out.research,
		RouteSetResearch:   out.setResearch,
	})
	return out
}

type prescriptionsBody struct {
	LimitedPrescriptions []string `json:"limitedPrescriptions"`
	BlockedProfessionals []string `json:"blockedProfessionals"`
	OnlyGP               bool     `json:"onlyGP"`
}

type scrBody struct {
	Limited                   bool     `json:"limited"`
	BlockedProfessionals      []string `json:"blockedProfessionals"`
	AppointmentHistoryBlocked bool     `json:"appointmentHistoryBlocked"`
}

type personnelBody struct {
	Prescriptions     prescriptionsBody `json:"prescriptions"`
	SummaryCareRecord scrBody           `json:"summaryCareRecord"`
	Version           int64             `json:"version"`
}

func strs(h []sectoraccess.HPR) []string {
	out := make([]string, 0, len(h))
	for _, v := range h {
		out = append(out, string(v))
	}
	return out
}

func personnel(st sectoraccess.State) personnelBody {
	limited := st.Prescriptions.Limited
	if limited == nil {
		limited = []string{}
	}
	return personnelBody{
		Prescriptions:     prescriptionsBody{LimitedPrescriptions: limited, BlockedProfessionals: strs(st.Prescriptions.Blocked), OnlyGP: st.Prescriptions.OnlyGP},
		SummaryCareRecord: scrBody{Limited: st.SCR.Limited, BlockedProfessionals: strs(st.SCR.Blocked), AppointmentHistoryBlocked: st.SCR.AppointmentHistoryBlocked},
		Version:           st.Version,
	}
}

type purposeBody struct {
	Purpose string     `json:"purpose"`
	Kind    string     `json:"kind"`
	Allowed bool       `json:"allowed"`
	Chosen  bool       `json:"chosen"`
	Since   *time.Time `json:"since,omitempty"`
}

type researchBody struct {
	Purposes []purposeBody `json:"purposes"`
	Version  int64         `json:"version"`
}

func research(st sectoraccess.State) researchBody {
	b := researchBody{Version: st.Version, Purposes: []purposeBody{}}
	for _, p := range sectoraccess.Purposes {
		_, chosen := st.Research[p.ID]
		pb := purposeBody{Purpose: string(p.ID), Kind: string(p.Kind), Allowed: st.Allowed(p), Chosen: chosen}
		if t, ok := st.Since[sectoraccess.ResearchSetting(p.ID)]; ok {
			pb.Since = &t
		}
		b.Purposes = append(b.Purposes, pb)
	}
	return b
}

var refPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// subject resolves the caller and the child they name (by id or by the
// person selector's reference), and lets the service decide whose settings
// the request is about.
func (h *Handler) subject(ctx context.Context, req events.APIGatewayV2HTTPRequest, childID, childRef, service string) (personkey.Key, sectoraccess.By, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return "", "", err
	}
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
		if !refPattern.MatchString(childRef) {
			return "", "", domain.Errorf(domain.EInvalid, "invalid_child", "childRef is not a valid reference.")
		}
		child = personkey.Key(childRef)
	}
	return h.Service.Subject(ctx, h.Keys.Key(caller.ID), child, service)
}

func withETag(status int, v any, version int64) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.JSON(status, v, "ETag", httpapi.ETag(version))
}

func (h *Handler) get(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	key, _, err := h.subject(ctx, req, "", req.QueryStringParameters["childRef"], sectoraccess.ServicePersonnel)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Service.Get(ctx, key)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return withETag(http.StatusOK, personnel(st), st.Version)
}

type target struct {
	Child    string `json:"child,omitempty"`
	ChildRef string `json:"childRef,omitempty"`
}

func (h *Handler) setPrescriptions(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var b struct {
		prescriptionsBody
		target
	}
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return h.change(ctx, req, b.target, sectoraccess.ServicePersonnel, "prescriptions", func(key personkey.Key, ifMatch *int64, who sectoraccess.Who) (sectoraccess.State, error) {
		in := sectoraccess.PrescriptionsInput{Limited: b.LimitedPrescriptions, Blocked: b.BlockedProfessionals, OnlyGP: b.OnlyGP}
		return h.Service.SetPrescriptions(ctx, key, in, ifMatch, who)
	}, func(st sectoraccess.State) any { return personnel(st) })
}

func (h *Handler) setSCR(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var b struct {
		scrBody
		target
	}
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return h.change(ctx, req, b.target, sectoraccess.ServicePersonnel, "summary_care_record", func(key personkey.Key, ifMatch *int64, who sectoraccess.Who) (sectoraccess.State, error) {
		in := sectoraccess.SCRInput{Limited: b.Limited, Blocked: b.BlockedProfessionals, AppointmentHistoryBlocked: b.AppointmentHistoryBlocked}
		return h.Service.SetSCR(ctx, key, in, ifMatch, who)
	}, func(st sectoraccess.State) any { return personnel(st) })
}

func (h *Handler) research(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	key, _, err := h.subject(ctx, req, "", req.QueryStringParameters["childRef"], sectoraccess.ServiceResearch)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := h.Service.Get(ctx, key)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return withETag(http.StatusOK, research(st), st.Version)
}

func (h *Handler) setResearch(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	p, err := sectoraccess.LookupPurpose(req.PathParameters["purpose"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var b struct {
		Allowed *bool `json:"allowed"`
		target
	}
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if b.Allowed == nil {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "missing_field", "The field %q is required.", "allowed")
	}
	return h.change(ctx, req, b.target, sectoraccess.ServiceFor(p), "research", func(key personkey.Key, ifMatch *int64, who sectoraccess.Who) (sectoraccess.State, error) {
		return h.Service.SetResearch(ctx, key, p, *b.Allowed, ifMatch, who)
	}, func(st sectoraccess.State) any { return research(st) })
}

// change resolves the subject and the If-Match precondition, applies one
// change, logs it (the group, never the values) and answers the new state.
func (h *Handler) change(ctx context.Context, req events.APIGatewayV2HTTPRequest, t target, service, group string,
	apply func(personkey.Key, *int64, sectoraccess.Who) (sectoraccess.State, error), render func(sectoraccess.State) any) (events.APIGatewayV2HTTPResponse, error) {
	ifMatch, err := httpapi.IfMatch(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, by, err := h.subject(ctx, req, t.Child, t.ChildRef, service)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	st, err := apply(key, ifMatch, sectoraccess.Who{By: by, Channel: sectoraccess.Portal})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "sector setting changed", "group", group, "by", string(by), "version", st.Version)
	return withETag(http.StatusOK, render(st), st.Version)
}

type changeBody struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Setting string    `json:"setting"`
	Value   string    `json:"value"`
	By      string    `json:"by"`
	Channel string    `json:"channel"`
}

func (h *Handler) history(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	limit, cursor, err := httpapi.Page(req, 20)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key, _, err := h.subject(ctx, req, "", req.QueryStringParameters["childRef"], sectoraccess.ServicePersonnel)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	changes, next, err := h.Service.History(ctx, key, limit, cursor)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	out := struct {
		Items []changeBody `json:"items"`
		Next  string       `json:"next,omitempty"`
	}{Items: []changeBody{}, Next: next}
	for _, c := range changes {
		out.Items = append(out.Items, changeBody{ID: c.ID, At: c.At, Setting: string(c.Setting), Value: c.Value, By: string(c.By), Channel: string(c.Channel)})
	}
	return httpapi.JSON(http.StatusOK, out)
}
