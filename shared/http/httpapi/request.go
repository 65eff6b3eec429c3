package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/aws/aws-lambda-go/events"

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
// must be JSON (when given), unknown fields and trailing data are refused.
func DecodeJSON(req events.APIGatewayV2HTTPRequest, v any) error {
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
	if len(bytes.TrimSpace(b)) == 0 {
		return domain.Errorf(domain.EInvalid, "malformed_json", "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return domain.Errorf(domain.EInvalid, "invalid_field", "The field %q has the wrong type.", typeErr.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return domain.Errorf(domain.EInvalid, "unknown_field", "The request body has a field this route does not accept.")
		default:
			return domain.Errorf(domain.EInvalid, "malformed_json", "The request body is not a valid JSON object.")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return domain.Errorf(domain.EInvalid, "malformed_json", "The request body must hold exactly one JSON object.")
	}
	return nil
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
