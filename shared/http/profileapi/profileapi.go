// Package profileapi is the HTTP face of the profile rules: notification
// channel, next of kin, employer, communication needs, active logins and
// app permissions, for the authenticated person only. Path ids are random
// (or derived, for apps) opaque ids, never person ids; nothing a person
// entered is ever logged.
package profileapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
	"privacycore/shared/http/httpapi"
)

// The routes this handler serves, as declared in template.yaml.
const (
	RouteGet            = "GET /v1/profile"
	RouteChannel        = "PUT /v1/profile/notification-channel"
	RouteListKin        = "GET /v1/profile/next-of-kin"
	RouteAddKin         = "POST /v1/profile/next-of-kin"
	RouteRemoveKin      = "DELETE /v1/profile/next-of-kin/{id}"
	RouteSetClosest     = "PUT /v1/profile/next-of-kin/closest"
	RouteSetEmployer    = "PUT /v1/profile/employer"
	RouteRemoveEmployer = "DELETE /v1/profile/employer"
	RouteNeeds          = "PUT /v1/profile/communication-needs"
	RouteListLogins     = "GET /v1/profile/logins"
	RouteRecordLogin    = "POST /v1/profile/logins"
	RouteRevokeLogin    = "DELETE /v1/profile/logins/{id}"
	RouteListApps       = "GET /v1/profile/app-permissions"
	RouteGrantApp       = "POST /v1/profile/app-permissions"
	RouteRevokeApp      = "DELETE /v1/profile/app-permissions/{id}"
)

// Handler serves the profile routes.
type Handler struct {
	Profile *profile.Service
	Keys    *personkey.Keyer
	Log     *slog.Logger
	// Router serves the routes; its Handle is the Lambda entry point.
	*httpapi.Router
}

// route is a handler for a request whose caller is known and has consented.
type route func(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error)

// New returns a handler with its routes registered.
func New(svc *profile.Service, keys *personkey.Keyer, log *slog.Logger) *Handler {
	h := &Handler{Profile: svc, Keys: keys, Log: log}
	a := h.authorized
	h.Router = httpapi.NewRouter(log, httpapi.Routes{
		RouteGet: a(h.get), RouteChannel: a(h.setChannel),
		RouteListKin: a(h.listKin), RouteAddKin: a(h.addKin), RouteRemoveKin: a(h.removeKin), RouteSetClosest: a(h.setClosest),
		RouteSetEmployer: a(h.setEmployer), RouteRemoveEmployer: a(h.removeEmployer), RouteNeeds: a(h.setNeeds),
		RouteListLogins: a(h.listLogins), RouteRecordLogin: a(h.recordLogin), RouteRevokeLogin: a(h.revokeLogin),
		RouteListApps: a(h.listApps), RouteGrantApp: a(h.grantApp), RouteRevokeApp: a(h.revokeApp),
	})
	return h
}

// authorized resolves the caller from the token and opens their profile,
// which checks consent, before fn runs: every route goes through here.
func (h *Handler) authorized(fn route) httpapi.HandlerFunc {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		c, err := httpapi.CallerFrom(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		sub, err := h.Profile.Open(ctx, profile.Person{ID: c.ID, Key: h.Keys.Key(c.ID)})
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return fn(ctx, req, sub)
	}
}

// Request bodies. Decoding is strict: unknown fields are refused.
type (
	channelRequest struct {
		Channel profile.Channel `json:"channel"`
	}
	kinRequest struct {
		Name     string           `json:"name"`
		Phone    string           `json:"phone"`
		Email    string           `json:"email"`
		Relation profile.Relation `json:"relation"`
		Closest  bool             `json:"closest"`
	}
	closestRequest struct {
		ID string `json:"id"`
	}
	employerRequest struct {
		Name               string `json:"name"`
		OrganisationNumber string `json:"organisationNumber"`
		Phone              string `json:"phone"`
		Email              string `json:"email"`
	}
	needsRequest struct {
		Text                string `json:"text"`
		InterpreterLanguage string `json:"interpreterLanguage"`
		SignLanguage        bool   `json:"signLanguage"`
		PlainLanguage       bool   `json:"plainLanguage"`
	}
	loginRequest struct {
		Client    string              `json:"client"`
		Method    profile.LoginMethod `json:"method"`
		ExpiresAt string              `json:"expiresAt"` // RFC 3339; optional
	}
	appRequest struct {
		ClientID string   `json:"clientId"`
		Name     string   `json:"name"`
		Scopes   []string `json:"scopes"`
	}
)

// Response bodies.
type (
	profileBody struct {
		Notification       notificationBody `json:"notification"`
		Contact            *contactBody     `json:"contact"` // null when the contact register did not answer
		NextOfKin          kinBody          `json:"nextOfKin"`
		Employer           *employerBody    `json:"employer"`
		CommunicationNeeds *needsBody       `json:"communicationNeeds"`
		Logins             []loginBody      `json:"logins"`
		AppPermissions     []appBody        `json:"appPermissions"`
	}
	notificationBody struct {
		Channel   profile.Channel   `json:"channel"`
		Effective []profile.Channel `json:"effective"`
		Source    profile.Source    `json:"source"`
	}
	contactBody struct {
		Phone  string `json:"phone,omitempty"`
		Email  string `json:"email,omitempty"`
		Source string `json:"source"`
	}
	kinBody struct {
		Version int64          `json:"version"`
		Items   []kinEntryBody `json:"items"`
	}
	kinEntryBody struct {
		ID       string           `json:"id"`
		Name     string           `json:"name"`
		Phone    string           `json:"phone"`
		Email    string           `json:"email,omitempty"`
		Relation profile.Relation `json:"relation"`
		Closest  bool             `json:"closest"`
		AddedAt  time.Time        `json:"addedAt"`
	}
	employerBody struct {
		Name               string    `json:"name"`
		OrganisationNumber string    `json:"organisationNumber,omitempty"`
		Phone              string    `json:"phone,omitempty"`
		Email              string    `json:"email,omitempty"`
		UpdatedAt          time.Time `json:"updatedAt"`
	}
	needsBody struct {
		Text                string     `json:"text"`
		InterpreterLanguage string     `json:"interpreterLanguage"`
		SignLanguage        bool       `json:"signLanguage"`
		PlainLanguage       bool       `json:"plainLanguage"`
		UpdatedAt           *time.Time `json:"updatedAt,omitempty"`
	}
	loginBody struct {
		ID        string              `json:"id"`
		Client    string              `json:"client"`
		Method    profile.LoginMethod `json:"method"`
		CreatedAt time.Time           `json:"createdAt"`
		ExpiresAt time.Time           `json:"expiresAt"`
	}
	appBody struct {
		ID        string    `json:"id"`
		ClientID  string    `json:"clientId"`
		Name      string    `json:"name"`
		Scopes    []string  `json:"scopes"`
		GrantedAt time.Time `json:"grantedAt"`
	}
	itemsBody[T any] struct {
		Items []T `json:"items"`
	}
)

func (h *Handler) get(ctx context.Context, _ events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	v, contactErr, err := h.Profile.Get(ctx, sub)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if contactErr != nil {
		h.Log.ErrorContext(ctx, "contact register unavailable; profile served without contact details", "err", contactErr)
	}
	b := profileBody{
		Notification:   notificationBody{Channel: v.Notification.Channel, Effective: v.Notification.Effective, Source: v.Notification.Source},
		NextOfKin:      toKinBody(v.Kin),
		Logins:         mapItems(v.Logins, toLoginBody),
		AppPermissions: mapItems(v.AppPermissions, toAppBody),
	}
	if v.Contact != nil {
		b.Contact = &contactBody{Phone: v.Contact.Phone, Email: v.Contact.Email, Source: "contact_register"}
	}
	if v.Employer != nil {
		e := toEmployerBody(*v.Employer)
		b.Employer = &e
	}
	if v.CommunicationNeeds != nil {
		n := toNeedsBody(*v.CommunicationNeeds)
		b.CommunicationNeeds = &n
	}
	return httpapi.JSON(http.StatusOK, b, "ETag", httpapi.ETag(v.Kin.Version))
}

func (h *Handler) setChannel(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b channelRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := h.Profile.SetNotificationChannel(ctx, sub, b.Channel); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "notification channel set")
	return httpapi.JSON(http.StatusOK, channelRequest{Channel: b.Channel})
}

func (h *Handler) listKin(ctx context.Context, _ events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	k, err := h.Profile.NextOfKin(ctx, sub)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return kinResponse(http.StatusOK, k)
}

func (h *Handler) addKin(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b kinRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	ifMatch, err := httpapi.IfMatch(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	n, k, err := h.Profile.AddNextOfKin(ctx, sub, profile.NewKin{Name: b.Name, Phone: b.Phone, Email: b.Email, Relation: b.Relation, Closest: b.Closest}, ifMatch)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "next of kin added", "id", n.ID, "count", len(k.Items), "version", k.Version)
	return httpapi.JSON(http.StatusCreated, toKinEntryBody(n, k.Closest),
		"ETag", httpapi.ETag(k.Version), "Location", "/v1/profile/next-of-kin/"+n.ID)
}

func (h *Handler) removeKin(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	if err := noBody(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	ifMatch, err := httpapi.IfMatch(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k, err := h.Profile.RemoveNextOfKin(ctx, sub, req.PathParameters["id"], ifMatch)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "next of kin removed", "count", len(k.Items), "version", k.Version)
	return kinResponse(http.StatusOK, k)
}

func (h *Handler) setClosest(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b closestRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	ifMatch, err := httpapi.IfMatch(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k, err := h.Profile.SetClosest(ctx, sub, b.ID, ifMatch)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "closest next of kin set", "version", k.Version)
	return kinResponse(http.StatusOK, k)
}

func (h *Handler) setEmployer(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b employerRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	e, err := h.Profile.SetEmployer(ctx, sub, profile.Employer{Name: b.Name, OrganisationNumber: b.OrganisationNumber, Phone: b.Phone, Email: b.Email})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "employer set")
	return httpapi.JSON(http.StatusOK, toEmployerBody(e))
}

func (h *Handler) removeEmployer(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	if err := noBody(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := h.Profile.RemoveEmployer(ctx, sub); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "employer removed")
	return httpapi.NoContent()
}

func (h *Handler) setNeeds(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b needsRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	n, err := h.Profile.SetCommunicationNeeds(ctx, sub, profile.CommunicationNeeds{
		Text: b.Text, InterpreterLanguage: b.InterpreterLanguage, SignLanguage: b.SignLanguage, PlainLanguage: b.PlainLanguage,
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "communication needs set", "empty", n.Empty())
	return httpapi.JSON(http.StatusOK, toNeedsBody(n))
}

func (h *Handler) listLogins(ctx context.Context, _ events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	ls, err := h.Profile.Logins(ctx, sub)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, itemsBody[loginBody]{Items: mapItems(ls, toLoginBody)})
}

func (h *Handler) recordLogin(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b loginRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	n := profile.NewLogin{Client: b.Client, Method: b.Method}
	if b.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, b.ExpiresAt)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "invalid_expiry", "expiresAt must be an RFC 3339 time, for example 2026-11-24T08:00:00Z.")
		}
		n.ExpiresAt = &t
	}
	l, err := h.Profile.RecordLogin(ctx, sub, n)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "login recorded", "id", l.ID)
	return httpapi.JSON(http.StatusCreated, toLoginBody(l), "Location", "/v1/profile/logins/"+l.ID)
}

func (h *Handler) revokeLogin(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	if err := noBody(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id := req.PathParameters["id"]
	if err := h.Profile.RevokeLogin(ctx, sub, id); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "login revoked", "id", id)
	return httpapi.NoContent()
}

func (h *Handler) listApps(ctx context.Context, _ events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	ps, err := h.Profile.AppPermissions(ctx, sub)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, itemsBody[appBody]{Items: mapItems(ps, toAppBody)})
}

func (h *Handler) grantApp(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	var b appRequest
	if err := httpapi.DecodeJSON(req, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	p, created, err := h.Profile.GrantApp(ctx, sub, profile.NewAppPermission{ClientID: b.ClientID, Name: b.Name, Scopes: b.Scopes})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "app permission granted", "id", p.ID, "created", created)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.JSON(status, toAppBody(p), "Location", "/v1/profile/app-permissions/"+p.ID)
}

func (h *Handler) revokeApp(ctx context.Context, req events.APIGatewayV2HTTPRequest, sub profile.Subject) (events.APIGatewayV2HTTPResponse, error) {
	if err := noBody(req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id := req.PathParameters["id"]
	if err := h.Profile.RevokeApp(ctx, sub, id); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "app permission revoked", "id", id)
	return httpapi.NoContent()
}

func noBody(req events.APIGatewayV2HTTPRequest) error {
	if req.Body != "" {
		return domain.Errorf(domain.EInvalid, "unexpected_body", "This route takes no request body.")
	}
	return nil
}

func kinResponse(status int, k profile.Kin) (events.APIGatewayV2HTTPResponse, error) {
	return httpapi.JSON(status, toKinBody(k), "ETag", httpapi.ETag(k.Version))
}

func toKinBody(k profile.Kin) kinBody {
	b := kinBody{Version: k.Version, Items: make([]kinEntryBody, 0, len(k.Items))}
	for _, n := range k.Items {
		b.Items = append(b.Items, toKinEntryBody(n, k.Closest))
	}
	return b
}

func toKinEntryBody(n profile.NextOfKin, closest string) kinEntryBody {
	return kinEntryBody{ID: n.ID, Name: n.Name, Phone: n.Phone, Email: n.Email, Relation: n.Relation, Closest: n.ID == closest, AddedAt: n.AddedAt}
}

func toEmployerBody(e profile.Employer) employerBody {
	return employerBody{Name: e.Name, OrganisationNumber: e.OrganisationNumber, Phone: e.Phone, Email: e.Email, UpdatedAt: e.UpdatedAt}
}

func toNeedsBody(n profile.CommunicationNeeds) needsBody {
	b := needsBody{Text: n.Text, InterpreterLanguage: n.InterpreterLanguage, SignLanguage: n.SignLanguage, PlainLanguage: n.PlainLanguage}
	if !n.UpdatedAt.IsZero() {
		t := n.UpdatedAt
		b.UpdatedAt = &t
	}
	return b
}

func toLoginBody(l profile.Login) loginBody {
	return loginBody{ID: l.ID, Client: l.Client, Method: l.Method, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt}
}

func toAppBody(p profile.AppPermission) appBody {
	return appBody{ID: p.ID, ClientID: p.ClientID, Name: p.Name, Scopes: p.Scopes, GrantedAt: p.GrantedAt}
}

// mapItems converts a list, never returning nil (an empty list is [] in JSON).
func mapItems[T, B any](in []T, f func(T) B) []B {
	out := make([]B, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
