package fakenhn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"privacycore/shared/platform/helseid"
)

// TokenPath is where the fake HelseID serves its token endpoint.
const TokenPath = "/connect/token"

// algs are the signature algorithms the fake accepts, as HelseID does.
var algs = []jose.SignatureAlgorithm{jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.ES256, jose.ES384, jose.ES512}

// skew is how far iat may lie from the fake's clock.
const skew = 60 * time.Second

// HelseID is a fake HelseID token endpoint for machine clients. It checks
// what HelseID checks of a client-credentials request: the client
// assertion's signature against the client's registered key, its iss/sub,
// audience, iat/exp (and a short lifetime), jti never seen before; the
// DPoP proof's type, signature by its embedded key, htm, htu, iat, jti, and
// the nonce it handed out. Tokens it issues are JWTs bound to the proof's
// key (cnf.jkt), which Authorize checks on API calls.
type HelseID struct {
	Issuer   string // also the assertion's expected audience
	TokenURL string
	TokenTTL time.Duration
	Now      func() time.Time

	key *ecdsa.PrivateKey // signs access tokens

	mu      sync.Mutex
	clients map[string]jose.JSONWebKey // client id → public key
	scopes  map[string][]string        // client id → allowed scopes
	seen    map[string]time.Time       // jti → when it may be forgotten
	nonce   string
	live    []string        // ids of tokens issued and not expired early
	revoked map[string]bool // ids of tokens ExpireTokens ended
	issued  int
}

// NewHelseID returns a fake issuing tokens valid for ttl.
func NewHelseID(issuer string, ttl time.Duration) *HelseID {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &HelseID{Issuer: issuer, TokenURL: issuer + TokenPath, TokenTTL: ttl, Now: time.Now, key: k,
		clients: map[string]jose.JSONWebKey{}, revoked: map[string]bool{}, scopes: map[string][]string{}, seen: map[string]time.Time{}, nonce: randomString()}
}

// RegisterClient lets clientID ask for scopes, authenticating with pub.
func (h *HelseID) RegisterClient(clientID string, pub jose.JSONWebKey, scopes ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients[clientID], h.scopes[clientID] = pub, scopes
}

// ExpireTokens makes every token issued so far invalid, as if it had
// expired earlier than its expires_in said.
func (h *HelseID) ExpireTokens() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.live {
		h.revoked[id] = true
	}
	h.live = nil
}

// Nonce is the DPoP nonce the token endpoint currently requires.
func (h *HelseID) Nonce() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nonce
}

// Issued is how many tokens the fake has issued.
func (h *HelseID) Issued() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.issued
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func tokenFail(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(oauthError{Error: code, Description: desc})
}

// ServeHTTP serves the token endpoint.
func (h *HelseID) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenFail(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenFail(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		tokenFail(w, http.StatusBadRequest, "unsupported_grant_type", "client_credentials only")
		return
	}
	if f.Get("client_assertion_type") != helseid.AssertionType {
		tokenFail(w, http.StatusBadRequest, "invalid_client", "client_assertion_type")
		return
	}
	clientID := f.Get("client_id")
	h.mu.Lock()
	defer h.mu.Unlock()
	pub, ok := h.clients[clientID]
	if !ok {
		tokenFail(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	if err := h.checkAssertion(f.Get("client_assertion"), clientID, pub); err != nil {
		tokenFail(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	proof, jkt, err := h.checkProof(r.Header.Values("DPoP"), http.MethodPost, h.TokenURL)
	if err != nil {
		tokenFail(w, http.StatusBadRequest, "invalid_dpop_proof", err.Error())
		return
	}
	if proof.Nonce != h.nonce {
		w.Header().Set("DPoP-Nonce", h.nonce)
		tokenFail(w, http.StatusBadRequest, helseid.ErrNonce, "a DPoP nonce is required")
		return
	}
	scopes := strings.Fields(f.Get("scope"))
	for _, s := range scopes {
		if !contains(h.scopes[clientID], s) {
			tokenFail(w, http.StatusBadRequest, "invalid_scope", "scope not granted to the client")
			return
		}
	}
	now, id := h.Now(), randomString()
	tok, err := jwt.Signed(h.tokenSigner()).Claims(accessClaims{
		Claims: jwt.Claims{Issuer: h.Issuer, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(now.Add(h.TokenTTL)), ID: id},
		ClientID: clientID, Scope: strings.Join(scopes, " "), Cnf: cnf{JKT: jkt},
	}).Serialize()
	if err != nil {
		tokenFail(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	h.issued++
	h.live = append(h.live, id)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "token_type": "DPoP", "expires_in": int(h.TokenTTL.Seconds()), "scope": strings.Join(scopes, " "),
	})
}

type cnf struct {
	JKT string `json:"jkt"`
}

type accessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Cnf      cnf    `json:"cnf"`
}

func (h *HelseID) tokenSigner() jose.Signer {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: h.key}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		panic(err)
	}
	return s
}

// checkAssertion verifies an RFC 7523 client assertion. Call with h.mu held.
func (h *HelseID) checkAssertion(raw, clientID string, pub jose.JSONWebKey) error {
	tok, err := jwt.ParseSigned(raw, algs)
	if err != nil {
		return errors.New("assertion is not a signed JWT")
	}
	if typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string); typ != helseid.AssertionTyp {
		return errors.New("assertion typ")
	}
	var c jwt.Claims
	if err := tok.Claims(pub, &c); err != nil {
		return errors.New("assertion signature")
	}
	now := h.Now()
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: clientID, Subject: clientID, AnyAudience: jwt.Audience{h.Issuer}, Time: now}, 0); err != nil {
		return fmt.Errorf("assertion claims: %v", err)
	}
	if c.IssuedAt == nil || c.Expiry == nil || c.ID == "" {
		return errors.New("assertion needs iat, exp and jti")
	}
	if iat := c.IssuedAt.Time(); iat.After(now.Add(skew)) || iat.Before(now.Add(-skew)) {
		return errors.New("assertion iat out of range")
	}
	if c.Expiry.Time().Sub(c.IssuedAt.Time()) > 2*time.Minute {
		return errors.New("assertion lives too long")
	}
	return h.once("assertion", c.ID, c.Expiry.Time())
}

// checkProof verifies a DPoP proof for method and url; it returns the
// proof's claims and its key's thumbprint. Call with h.mu held.
func (h *HelseID) checkProof(values []string, method, url string) (helseid.ProofClaims, string, error) {
	var pc helseid.ProofClaims
	if len(values) != 1 {
		return pc, "", errors.New("exactly one DPoP header is required")
	}
	tok, err := jwt.ParseSigned(values[0], algs)
	if err != nil {
		return pc, "", errors.New("DPoP proof is not a signed JWT")
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != helseid.ProofTyp {
		return pc, "", errors.New("DPoP proof typ")
	}
	if hdr.JSONWebKey == nil || !hdr.JSONWebKey.IsPublic() {
		return pc, "", errors.New("DPoP proof needs a public jwk header")
	}
	if err := tok.Claims(hdr.JSONWebKey, &pc); err != nil {
		return pc, "", errors.New("DPoP proof signature")
	}
	if pc.Method != method {
		return pc, "", errors.New("DPoP htm does not match the request")
	}
	if pc.URI != url {
		return pc, "", errors.New("DPoP htu does not match the request")
	}
	now := h.Now()
	if iat := time.Unix(pc.IssuedAt, 0); iat.After(now.Add(skew)) || iat.Before(now.Add(-skew)) {
		return pc, "", errors.New("DPoP iat out of range")
	}
	if pc.ID == "" {
		return pc, "", errors.New("DPoP jti is required")
	}
	if err := h.once("proof", pc.ID, now.Add(2*skew)); err != nil {
		return pc, "", err
	}
	return pc, helseid.Thumbprint(*hdr.JSONWebKey), nil
}

// once refuses a jti seen before, and forgets jtis past their use.
func (h *HelseID) once(kind, jti string, until time.Time) error {
	now := h.Now()
	for k, t := range h.seen {
		if t.Before(now) {
			delete(h.seen, k)
		}
	}
	k := kind + ":" + jti
	if _, dup := h.seen[k]; dup {
		return fmt.Errorf("%s jti replayed", kind)
	}
	h.seen[k] = until
	return nil
}

// Authorize checks an API call as a resource server does: a DPoP-bound
// token of this issuer, unexpired, with scope, presented with a fresh proof
// for this method and URL by the key the token is bound to, naming the
// token's hash. url is the request URL without query.
func (h *HelseID) Authorize(r *http.Request, url, scope string) error {
	auth := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "DPoP ")
	if !ok {
		return errors.New("a DPoP token is required")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return errors.New("token is not a signed JWT")
	}
	var c accessClaims
	if err := tok.Claims(&h.key.PublicKey, &c); err != nil {
		return errors.New("token signature")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.Now()
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: h.Issuer, Time: now}, 0); err != nil {
		return errors.New("token expired or not yet valid")
	}
	if h.revoked[c.ID] {
		return errors.New("token expired")
	}
	if !contains(strings.Fields(c.Scope), scope) {
		return errScope
	}
	pc, jkt, err := h.checkProof(r.Header.Values("DPoP"), r.Method, url)
	if err != nil {
		return err
	}
	if jkt != c.Cnf.JKT {
		return errors.New("DPoP proof key is not the token's")
	}
	if pc.Hash != helseid.TokenHash(raw) {
		return errors.New("DPoP ath does not match the token")
	}
	return nil
}

var errScope = errors.New("insufficient scope")

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
