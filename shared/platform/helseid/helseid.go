// Package helseid obtains access tokens from HelseID, Norsk helsenett's
// identity provider, for a machine client (no user), and authorises calls
// to APIs that accept them.
//
// The flow is OAuth 2.0 client credentials. The client proves who it is
// with a private-key JWT client assertion (RFC 7523) instead of a shared
// secret, and binds each token to its key with DPoP (RFC 9449): every token
// request and every API call carries a fresh DPoP proof signed by the same
// key, and an API call's proof also names a hash of the token (ath), so a
// stolen token is useless without the key. All signing is go-jose's.
//
// Protocol time (iat, exp, the token's lifetime) is wall-clock time, never
// the business clock a test or the local runner may move.
package helseid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Token-type and header values the protocol fixes.
const (
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	AssertionTyp  = "client-authentication+jwt"
	ProofTyp      = "dpop+jwt"
	// ErrNonce is the OAuth error by which a server asks for a DPoP nonce.
	ErrNonce = "use_dpop_nonce"
)

// Lifetimes the client chooses.
const (
	assertionLifetime = 60 * time.Second
	// refreshMargin is how long before its expiry a cached token is
	// replaced, so a token never expires between the check and the call.
	refreshMargin = 60 * time.Second
)

// Config names the HelseID client.
type Config struct {
	TokenURL string // HelseID's token endpoint
	Audience string // the assertion's aud: HelseID's issuer; defaults to TokenURL's origin
	ClientID string
	Scope    string // space-separated
}

// Client gets and caches one token at a time; it is safe for concurrent use.
type Client struct {
	cfg    Config
	key    jose.JSONWebKey
	signer jose.Signer // assertions
	prover jose.Signer // DPoP proofs: the public key in the header
	HTTP   *http.Client
	Now    func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	nonce   string
}

// ParseKey reads a private JWK (RSA or EC) with its alg. A key without
// alg gets PS256 (RSA) or ES256 (P-256), the algorithms HelseID accepts.
func ParseKey(data []byte) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(data); err != nil {
		return k, fmt.Errorf("parse JWK: %w", err)
	}
	if k.IsPublic() || !k.Valid() {
		return k, errors.New("the JWK is not a valid private key")
	}
	if k.Algorithm == "" {
		switch key := k.Key.(type) {
		case *rsa.PrivateKey:
			k.Algorithm = string(jose.PS256)
		case *ecdsa.PrivateKey:
			if key.Curve != elliptic.P256() {
				return k, errors.New("an EC JWK without alg must be on P-256")
			}
			k.Algorithm = string(jose.ES256)
		}
	}
	return k, nil
}

// New returns a client that signs with key.
func New(cfg Config, key jose.JSONWebKey) (*Client, error) {
	if cfg.TokenURL == "" || cfg.ClientID == "" || cfg.Scope == "" {
		return nil, errors.New("helseid: token URL, client id and scope are required")
	}
	if cfg.Audience == "" {
		u, err := url.Parse(cfg.TokenURL)
		if err != nil {
			return nil, fmt.Errorf("helseid: token URL: %w", err)
		}
		cfg.Audience = u.Scheme + "://" + u.Host
	}
	alg := jose.SignatureAlgorithm(key.Algorithm)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType(AssertionTyp))
	if err != nil {
		return nil, fmt.Errorf("helseid: assertion signer: %w", err)
	}
	pub := key.Public()
	prover, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Key},
		(&jose.SignerOptions{}).WithType(ProofTyp).WithHeader("jwk", pub))
	if err != nil {
		return nil, fmt.Errorf("helseid: proof signer: %w", err)
	}
	return &Client{cfg: cfg, key: key, signer: signer, prover: prover,
		HTTP: &http.Client{Timeout: 10 * time.Second}, Now: time.Now}, nil
}

// Thumbprint is the key's RFC 7638 thumbprint, the jkt a DPoP-bound token names.
func (c *Client) Thumbprint() string { return Thumbprint(c.key.Public()) }

// Thumbprint returns a JWK's SHA-256 thumbprint, base64url.
func Thumbprint(k jose.JSONWebKey) string {
	b, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenHash is a token's ath: base64url SHA-256 of its ASCII.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Token returns a cached token, or a new one when none is cached or the
// cached one is within refreshMargin of its expiry.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.Now().Before(c.expires.Add(-refreshMargin)) {
		return c.token, nil
	}
	c.token = ""
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var retry bool
		retry, err = c.fetch(ctx)
		if !retry {
			break
		}
	}
	if err != nil {
		return "", err
	}
	return c.token, nil
}

// Invalidate drops token from the cache if it is the cached one, after an
// API refused it (revoked, or expired sooner than it said).
func (c *Client) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// tokenError is the OAuth error body.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// fetch asks for a token; retry reports a nonce challenge worth answering.
func (c *Client) fetch(ctx context.Context) (retry bool, err error) {
	assertion, err := c.assertion()
	if err != nil {
		return false, err
	}
	proof, err := c.Proof(http.MethodPost, c.cfg.TokenURL, "", c.nonce)
	if err != nil {
		return false, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {c.cfg.ClientID},
		"client_assertion_type": {AssertionType},
		"client_assertion":      {assertion},
		"scope":                 {c.cfg.Scope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("helseid: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("helseid: token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return false, fmt.Errorf("helseid: read token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var te tokenError
		_ = json.Unmarshal(body, &te)
		if te.Error == ErrNonce && resp.Header.Get("DPoP-Nonce") != "" {
			c.nonce = resp.Header.Get("DPoP-Nonce")
			return true, fmt.Errorf("helseid: token endpoint asked for a DPoP nonce twice")
		}
		return false, fmt.Errorf("helseid: token endpoint answered %d (%s)", resp.StatusCode, safe(te.Error))
	}
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		c.nonce = n
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		return false, errors.New("helseid: token response without a token or a lifetime")
	}
	if !strings.EqualFold(tr.TokenType, "DPoP") {
		return false, fmt.Errorf("helseid: token type %q, want DPoP", safe(tr.TokenType))
	}
	c.token, c.expires = tr.AccessToken, c.Now().Add(time.Duration(tr.ExpiresIn)*time.Second)
	return false, nil
}

func (c *Client) assertion() (string, error) {
	now := c.Now()
	cl := jwt.Claims{
		Issuer: c.cfg.ClientID, Subject: c.cfg.ClientID, Audience: jwt.Audience{c.cfg.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(assertionLifetime)), ID: randomID(),
	}
	s, err := jwt.Signed(c.signer).Claims(cl).Serialize()
	if err != nil {
		return "", fmt.Errorf("helseid: sign client assertion: %w", err)
	}
	return s, nil
}

// ProofClaims are a DPoP proof's claims.
type ProofClaims struct {
	ID       string `json:"jti"`
	Method   string `json:"htm"`
	URI      string `json:"htu"`
	IssuedAt int64  `json:"iat"`
	Hash     string `json:"ath,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
}

// Proof signs a DPoP proof for one request. htu is the URL without query
// and fragment; token, when set, is bound by its hash.
func (c *Client) Proof(method, rawURL, token, nonce string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("helseid: proof URL: %w", err)
	}
	u.RawQuery, u.Fragment = "", ""
	pc := ProofClaims{ID: randomID(), Method: method, URI: u.String(), IssuedAt: c.Now().Unix(), Nonce: nonce}
	if token != "" {
		pc.Hash = TokenHash(token)
	}
	s, err := jwt.Signed(c.prover).Claims(pc).Serialize()
	if err != nil {
		return "", fmt.Errorf("helseid: sign DPoP proof: %w", err)
	}
	return s, nil
}

// Do sends req with a token and a DPoP proof. When the API refuses the
// token (401), the token is dropped and the request sent once more with a
// new one: a token may expire or be revoked between two calls of one run.
// req's body must be replayable (GetBody set, as http.NewRequest does for
// strings.Reader and bytes.Reader).
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.Token(ctx)
		if err != nil {
			return nil, err
		}
		r := req.Clone(ctx)
		if req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("helseid: replay body: %w", err)
			}
		}
		proof, err := c.Proof(r.Method, r.URL.String(), tok, "")
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof)
		resp, err := c.HTTP.Do(r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		c.Invalidate(tok)
	}
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safe keeps an error code from a server short and printable.
func safe(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
