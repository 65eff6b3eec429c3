package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
)

// MaxBody is the largest request body any route accepts.
const MaxBody = 64 << 10

// PIDClaim is the JWT claim that carries the caller's person id, as in the
// national login (ID-porten). The person id is never taken from a path or query.
const PIDClaim = "pid"

// Caller is the authenticated caller of a request.
type Caller struct {
	ID     nin.ID
	Scopes []string
}

// CallerFrom returns the caller from the claims the API Gateway JWT
// authorizer (or the local runner) placed in the request context.
//
// Citizen routes use it; an operator's token (scope OperatorScope) is
// refused here, so operators cannot act on citizens' own routes.
func CallerFrom(req events.APIGatewayV2HTTPRequest) (Caller, error) {
	a := req.RequestContext.Authorizer
	if a == nil || a.JWT == nil {
		return Caller{}, domain.Errorf(domain.EUnauthorized, "missing_token", "A valid bearer token is required.")
	}
	if hasScope(a.JWT, OperatorScope) {
		return Caller{}, domain.Errorf(domain.EForbidden, "operator_token", "Operator tokens cannot use citizens' routes.")
	}
	if hasScope(a.JWT, SectorScope) {
		return Caller{}, domain.Errorf(domain.EForbidden, "sector_token", "The health sector's system tokens cannot use citizens' routes.")
	}
	raw, ok := a.JWT.Claims[PIDClaim]
	if !ok || raw == "" {
		return Caller{}, domain.Errorf(domain.EUnauthorized, "invalid_token", "The token has no person identifier claim.")
	}
	id, err := nin.Parse(raw)
	if err != nil {
		return Caller{}, domain.Errorf(domain.EUnauthorized, "invalid_token", "The token's person identifier is not valid.")
	}
	return Caller{ID: id, Scopes: a.JWT.Scopes}, nil
}

// OperatorScope is the scope of operators who key in paper forms.
const OperatorScope = "forms:write"

// OperatorFrom checks that the caller is an operator (scope forms:write).
// API Gateway enforces the scope too (AuthorizationScopes in the template).
func OperatorFrom(req events.APIGatewayV2HTTPRequest) error {
	a := req.RequestContext.Authorizer
	if a == nil || a.JWT == nil {
		return domain.Errorf(domain.EUnauthorized, "missing_token", "A valid bearer token is required.")
	}
	if !hasScope(a.JWT, OperatorScope) {
		return domain.Errorf(domain.EForbidden, "insufficient_scope", "This route is for operators (scope forms:write).")
	}
	return nil
}

// OperatorSubject checks that the caller is an operator (OperatorFrom) and
// returns their token's subject (sub), which may be empty: the caller
// decides what an acceptable operator identity is.
func OperatorSubject(req events.APIGatewayV2HTTPRequest) (string, error) {
	if err := OperatorFrom(req); err != nil {
		return "", err
	}
	return req.RequestContext.Authorizer.JWT.Claims["sub"], nil
}

// SectorScope is the scope of the health sector's systems (machine
// clients) that enforce the sector settings and read them as FHIR.
const SectorScope = "sector:read"

// SectorClient is the machine client calling a sector route.
type SectorClient struct {
	// ID is the client's id (client_id claim, else sub), for logs only.
	ID string
}

// SectorFrom checks that the caller is a sector system: scope sector:read
// and no person id claim. A citizen's token (it carries pid) is refused
// even if it somehow had the scope, so no person can ask about another.
// API Gateway enforces the scope too (AuthorizationScopes in the template).
func SectorFrom(req events.APIGatewayV2HTTPRequest) (SectorClient, error) {
	a := req.RequestContext.Authorizer
	if a == nil || a.JWT == nil {
		return SectorClient{}, domain.Errorf(domain.EUnauthorized, "missing_token", "A valid bearer token is required.")
	}
	if a.JWT.Claims[PIDClaim] != "" {
		return SectorClient{}, domain.Errorf(domain.EForbidden, "citizen_token", "Citizens' tokens cannot use the sector's routes.")
	}
	if !hasScope(a.JWT, SectorScope) {
		return SectorClient{}, domain.Errorf(domain.EForbidden, "insufficient_scope", "This route is for the health sector's systems (scope sector:read).")
	}
	id := a.JWT.Claims["client_id"]
	if id == "" {
		id = a.JWT.Claims["sub"]
	}
	return SectorClient{ID: id}, nil
}

func hasScope(j *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, scope string) bool {
	for _, s := range j.Scopes {
		if s == scope {
			return true
		}
	}
	for _, s := range strings.Fields(j.Claims["scope"]) {
		if s == scope {
			return true
		}
	}
	return false
}

// Body returns the request body, decoded from base64 if API Gateway encoded
// it, and refuses bodies over MaxBody.
func Body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	tooLarge := domain.Errorf(domain.ETooLarge, "body_too_large", "The request body must be at most %d bytes.", MaxBody)
	if !req.IsBase64Encoded {
		if len(req.Body) > MaxBody {
			return nil, tooLarge
		}
		return []byte(req.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBody+3 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, domain.Errorf(domain.EInvalid, "malformed_body", "The request body is not valid base64.")
	}
	if len(b) > MaxBody {
		return nil, tooLarge
	}
	return b, nil
}

// DecodeJSON decodes a JSON object body into v strictly: the content type
// must be JSON (when given) and the body exactly one JSON object (not null)
// in valid UTF-8, whose member names each match a field of v exactly (case
// included) and at most once; v (a pointer) is set only if all of that
// holds, never merged into. Each breach has its own problem code:
// malformed_json, invalid_utf8, duplicate_field, unknown_field, or
// invalid_field for a value of the wrong type.
func DecodeJSON(req events.APIGatewayV2HTTPRequest, v any) error {
	return DecodeJSONFields(req, v, nil)
}

// DecodeJSONFields is DecodeJSON with a problem code per field for values
// that do not parse as their type (a date that does not exist, such as
// 2030-02-30, answers the field's own code, not invalid_field), keyed by
// the top-level member name.
func DecodeJSONFields(req events.APIGatewayV2HTTPRequest, v any, invalid map[string]string) error {
	if ct := Header(req, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return domain.Errorf(domain.EUnsupportedMedia, "unsupported_media_type", "The request body must be application/json.")
		}
	}
	b, err := Body(req)
	if err != nil {
		return err
	}
	if !utf8.Valid(b) {
		return domain.Errorf(domain.EInvalid, "invalid_utf8", "The request body must be valid UTF-8.")
	}
	// A literal null (or any other non-object) would decode into the zero
	// value and clear what the route sets.
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return domain.Errorf(domain.EInvalid, "malformed_json", "The request body must be a JSON object.")
	}
	// go-json-experiment/json (the proposed encoding/json/v2) refuses
	// duplicate names, invalid UTF-8 and trailing data by default, and
	// matches names case-sensitively; unknown names are refused here.
	// Decoding into a fresh value and setting v only on success leaves v
	// untouched by a body that is refused half-way.
	rv := reflect.ValueOf(v)
	fresh := reflect.New(rv.Type().Elem())
	err = jsonv2.Unmarshal(b, fresh.Interface(), jsonv2.RejectUnknownMembers(true))
	if err == nil {
		rv.Elem().Set(fresh.Elem())
		return nil
	}
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		return domain.Errorf(domain.EInvalid, "duplicate_field", "A field occurs more than once in the request body.")
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "surrogate"):
		return domain.Errorf(domain.EInvalid, "invalid_utf8", "The request body has an escaped character that is not valid UTF-16.")
	case errors.Is(err, jsonv2.ErrUnknownName):
		return domain.Errorf(domain.EInvalid, "unknown_field", "The request body has a field this route does not accept (names are case-sensitive).")
	case errors.As(err, &sem) && sem.JSONPointer != "":
		// The pointer's first token matched a field of v, so it is one of
		// our names, not the client's text.
		field, _, _ := strings.Cut(strings.TrimPrefix(string(sem.JSONPointer), "/"), "/")
		if code, ok := invalid[field]; ok {
			return domain.Errorf(domain.EInvalid, code, "The field %q does not hold a valid value.", field)
		}
		return domain.Errorf(domain.EInvalid, "invalid_field", "The field %q has the wrong type.", field)
	default:
		return domain.Errorf(domain.EInvalid, "malformed_json", "The request body is not a valid JSON object.")
	}
}

// Header returns a request header by case-insensitive name. API Gateway
// lower-cases header names, but fixtures and tests may not.
func Header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// CheckCaller wraps a function's handler so that a citizen's token whose
// person id the deployment does not accept (a synthetic test id where test
// ids are refused, a birth date in the future) is answered 401
// invalid_token before any route runs. Operator tokens carry no person id
// and pass through to their own checks.
func CheckCaller(rules nin.Rules, log *slog.Logger, next func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
			if raw := a.JWT.Claims[PIDClaim]; raw != "" {
				if _, err := rules.Parse(raw); err != nil {
					return Error(ctx, log, req, domain.Errorf(domain.EUnauthorized, "invalid_token", "The token's person identifier is not accepted.")), nil
				}
			}
		}
		return next(ctx, req)
	}
}
