// Package devjwt mints and verifies the access tokens of the local stack.
// In AWS, API Gateway's JWT authorizer verifies the national login's tokens;
// locally the runner does the same checks (signature, issuer, audience,
// expiry, scopes) against a fixed development key. Never deploy this key.
package devjwt

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Key is the local HMAC signing key. It is public by design.
var Key = []byte("local-development-jwt-key-not-a-secret-0123456789")

// Claims are the claims the portal's tokens carry.
type Claims struct {
	PID   string `json:"pid,omitempty"`
	Scope string `json:"scope,omitempty"`
	// ClientID names a machine client (a health sector system); its tokens
	// carry no pid.
	ClientID string `json:"client_id,omitempty"`
	jwt.RegisteredClaims
}

// Mint returns a signed token for a person id with the given scopes.
func Mint(issuer, audience, pid string, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	c := Claims{
		PID:   pid,
		Scope: strings.Join(scopes, " "),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Audience:  jwt.ClaimStrings{audience},
			Subject:   "local-" + fmt.Sprint(now.UnixNano()),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(Key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// MintClient returns a signed token for a machine client (no person id),
// as a client-credentials grant would give a health sector system.
func MintClient(issuer, audience, clientID string, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	c := Claims{
		ClientID: clientID,
		Scope:    strings.Join(scopes, " "),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Audience: jwt.ClaimStrings{audience}, Subject: "client-" + clientID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(Key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verified is what API Gateway would put in the request context.
type Verified struct {
	Claims map[string]string
	Scopes []string
}

// Verifier checks tokens like API Gateway's JWT authorizer.
type Verifier struct {
	Issuer   string
	Audience string
	Now      func() time.Time
}

// ErrUnauthorized is returned for any token that fails verification.
var ErrUnauthorized = errors.New("unauthorized")

// Verify checks an Authorization header value ("Bearer <jwt>").
func (v Verifier) Verify(header string) (Verified, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || raw == "" {
		return Verified{}, fmt.Errorf("%w: no bearer token", ErrUnauthorized)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return Key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(v.Issuer), jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(v.Now), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	out := Verified{Claims: map[string]string{
		"iss": c.Issuer, "aud": strings.Join(c.Audience, " "), "sub": c.Subject,
		"exp": fmt.Sprint(c.ExpiresAt.Unix()),
	}}
	if c.PID != "" {
		out.Claims["pid"] = c.PID
	}
	if c.ClientID != "" {
		out.Claims["client_id"] = c.ClientID
	}
	if c.Scope != "" {
		out.Claims["scope"] = c.Scope
		out.Scopes = strings.Fields(c.Scope)
	}
	return out, nil
}

// HasAnyScope reports whether the token carries one of the required scopes.
func (v Verified) HasAnyScope(required []string) bool {
	for _, s := range required {
		if slices.Contains(v.Scopes, s) {
			return true
		}
	}
	return false
}
