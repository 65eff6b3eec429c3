// Package representationapi serves powers of attorney (give, change, end,
// list both ways) and the person selector (whom may I act for, with what).
package representationapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/poa"
	"privacycore/shared/http/httpapi"
)

// The routes, as declared in template.yaml.
const (
	RouteGrant     = "POST /v1/powers-of-attorney"
	RouteList      = "GET /v1/powers-of-attorney"
	RouteChange    = "PATCH /v1/powers-of-attorney/{id}"
	RouteTerminate = "DELETE /v1/powers-of-attorney/{id}"
	RouteSelector  = "GET /v1/representation/people"
)

// Store is what the handler reads and writes.
type Store interface {
	CreateGrant(ctx context.Context, g poa.Grant) error
	Grants(ctx context.Context, key personkey.Key) (given, received []poa.Grant, err error)
	GivenGrant(ctx context.Context, grantor personkey.Key, id string) (poa.Grant, error)
	UpdateGrant(ctx context.Context, g poa.Grant, expect int64) error
	DeleteGrant(ctx context.Context, g poa.Grant) error
	Children(ctx context.Context, parent personkey.Key) ([]personkey.Key, error)
	AccessRecords(ctx context.Context, actor, subject personkey.Key) (access.Records, error)
}

// Handler serves the representation routes.
type Handler struct {
	Store  Store
	Keys   *personkey.Keyer
	Now    func() time.Time
	NewID  func() string
	Log    *slog.Logger
	router *httpapi.Router
}

// New returns a handler with its routes registered.
func New(h Handler) *Handler {
	out := &h
	out.router = httpapi.NewRouter(h.Log)
	out.router.Route(RouteGrant, out.grant)
	out.router.Route(RouteList, out.list)
	out.router.Route(RouteChange, out.change)
	out.router.Route(RouteTerminate, out.terminate)
	out.router.Route(RouteSelector, out.selector)
	return out
}

// Handle is the Lambda entry point.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.router.Handle(ctx, req)
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
	ID         string        `json:"id"`
	Areas      []access.Area `json:"areas"`
	ValidFrom  time.Time     `json:"validFrom"`
	ValidTo    time.Time     `json:"validTo"`
	Status     string        `json:"status"`
	Version    int64         `json:"version"`
	GranteeRef string        `json:"granteeRef,omitempty"`
	GrantorRef string        `json:"grantorRef,omitempty"`
	CreatedAt  time.Time     `json:"createdAt"`
	UpdatedAt  time.Time     `json:"updatedAt"`
}

func (h *Handler) body(g poa.Grant, given bool) grantBody {
	b := grantBody{ID: g.ID, Areas: g.Areas, ValidFrom: g.ValidFrom, ValidTo: g.ValidTo, Status: g.Status(h.Now()), Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	if given {
		b.GranteeRef = string(g.Grantee)
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
	grantee, err := nin.Parse(b.Grantee)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EInvalid, "invalid_grantee", "grantee is not a valid person id.")
	}
	now := h.Now().UTC()
	from := now
	if b.ValidFrom != nil {
		from = b.ValidFrom.UTC()
	}
	r := poa.Request{Grantor: caller.ID, Grantee: grantee, Areas: b.Areas, ValidFrom: from, ValidTo: b.ValidTo.UTC()}
	if err := r.Validate(now); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	grantor := h.Keys.Key(caller.ID)
	if err := h.requireConsent(ctx, grantor); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	g := poa.Grant{
		ID: h.NewID(), Grantor: grantor, Grantee: h.Keys.Key(grantee), Areas: poa.Normalize(b.Areas),
		ValidFrom: from, ValidTo: r.ValidTo, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if err := h.Store.CreateGrant(ctx, g); errors.Is(err, poa.ErrGrantExists) {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EConflict, "grant_exists", "You have already given this person a power of attorney; change it instead.")
	} else if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "power of attorney given", "grant", g.ID, "areas", len(g.Areas))
	return httpapi.JSON(http.StatusCreated, h.body(g, true), "Location", "/v1/powers-of-attorney/"+g.ID)
}

// requireConsent: giving or changing a power of attorney is a logged-in
// service: it needs the grantor's active consent, and no emergency block or
// registered death (its reach is the grantor's own access anyway).
func (h *Handler) requireConsent(ctx context.Context, key personkey.Key) error {
	recs, err := h.Store.AccessRecords(ctx, key, key)
	if err != nil {
		return err
	}
	switch p := recs.Subject; {
	case p.Deceased:
		return domain.Errorf(domain.EForbidden, "deceased", "The population register reports this person as deceased.")
	case p.Settings.EmergencyBlock:
		return domain.Errorf(domain.EForbidden, "emergency_block", "Logged-in services are blocked for you.")
	case p.Consent.Status != consent.StatusActive:
		return domain.Errorf(domain.EForbidden, "consent_required", "Give consent to use Helsenorge before you give a power of attorney.")
	}
	return nil
}

func (h *Handler) list(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	given, received, err := h.Store.Grants(ctx, h.Keys.Key(caller.ID))
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

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (h *Handler) own(ctx context.Context, req events.APIGatewayV2HTTPRequest) (poa.Grant, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return poa.Grant{}, err
	}
	id := req.PathParameters["id"]
	if !idPattern.MatchString(id) {
		return poa.Grant{}, domain.Errorf(domain.ENotFound, "grant_not_found", "You have not given a power of attorney with this id.")
	}
	// Only the grantor's own partition is searched: an id given by someone
	// else is simply not found (no IDOR).
	g, err := h.Store.GivenGrant(ctx, h.Keys.Key(caller.ID), id)
	if errors.Is(err, poa.ErrGrantNotFound) {
		return poa.Grant{}, domain.Errorf(domain.ENotFound, "grant_not_found", "You have not given a power of attorney with this id.")
	}
	return g, err
}

func (h *Handler) change(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	var b changeRequest
	if err := httpapi.DecodeJSONFields(req, &b, validityFields); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	g, err := h.own(ctx, req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := h.requireConsent(ctx, g.Grantor); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	next := g
	if b.Areas != nil {
		next.Areas = poa.Normalize(b.Areas)
	}
	if b.ValidFrom != nil {
		next.ValidFrom = b.ValidFrom.UTC()
	}
	if b.ValidTo != nil {
		next.ValidTo = b.ValidTo.UTC()
	}
	now := h.Now().UTC()
	if err := poa.ValidateTerms(next.Areas, next.ValidFrom, next.ValidTo, now); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	next.Version, next.UpdatedAt = g.Version+1, now
	if err := h.Store.UpdateGrant(ctx, next, g.Version); errors.Is(err, poa.ErrConcurrentUpdate) {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.EConflict, "concurrent_update", "The power of attorney was changed or ended meanwhile. Read it again and retry.")
	} else if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, h.body(next, true))
}

func (h *Handler) terminate(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	g, err := h.own(ctx, req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := h.Store.DeleteGrant(ctx, g); errors.Is(err, poa.ErrGrantNotFound) {
		return events.APIGatewayV2HTTPResponse{}, domain.Errorf(domain.ENotFound, "grant_not_found", "The power of attorney no longer exists.")
	} else if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	h.Log.InfoContext(ctx, "power of attorney ended", "grant", g.ID)
	return httpapi.NoContent()
}

type personBody struct {
	Ref      string     `json:"ref"`
	Relation string     `json:"relation"` // self, child, grantor
	Age      *int       `json:"age,omitempty"`
	ValidTo  *time.Time `json:"validTo,omitempty"`
	Services []string   `json:"services"`
}

// selector lists whom the caller may act for — themself, children under 16
// and valid grantors — each with the services available now.
func (h *Handler) selector(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller, err := httpapi.CallerFrom(req)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	now := h.Now()
	me := h.Keys.Key(caller.ID)
	people := []personBody{}
	add := func(subject personkey.Key, relation string, birth nin.Date) error {
		recs, err := h.Store.AccessRecords(ctx, me, subject)
		if err != nil {
			return err
		}
		f := access.Facts{Self: subject == me, Subject: recs.Subject, Link: recs.Link, Grant: recs.Grant, Now: now}
		if birth != (nin.Date{}) {
			f.Subject.Birth = birth
		}
		p := personBody{Ref: string(subject), Relation: relation, Services: []string{}}
		for _, s := range access.Catalogue {
			f.Service = s
			if d := access.Decide(f); d.Allowed {
				p.Services = append(p.Services, s.ID)
			}
		}
		if relation == "child" {
			age := clock.Age(f.Subject.Birth, now)
			p.Age = &age
		}
		if relation == "grantor" && recs.Grant != nil {
			to := recs.Grant.ValidTo
			p.ValidTo = &to
		}
		people = append(people, p)
		return nil
	}
	if err := add(me, "self", caller.ID.BirthDate()); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	children, err := h.Store.Children(ctx, me)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	for _, c := range children {
		recs, err := h.Store.AccessRecords(ctx, me, c)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if recs.Link == nil || recs.Link.Foster || clock.Age(recs.ChildBirth, now) >= access.ParentAccessEnds {
			continue
		}
		if err := add(c, "child", recs.ChildBirth); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	_, received, err := h.Store.Grants(ctx, me)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	for _, g := range received {
		if g.Status(now) != "active" {
			continue
		}
		if err := add(g.Grantor, "grantor", nin.Date{}); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	return httpapi.JSON(http.StatusOK, struct {
		People []personBody `json:"people"`
	}{people})
}
