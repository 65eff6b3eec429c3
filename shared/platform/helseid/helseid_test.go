package helseid_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"privacycore/infra/fakenhn"
	"privacycore/shared/platform/helseid"
)

// setup starts the fake HelseID/Persontjenesten with a registered client
// and returns a client for it.
func setup(t *testing.T) (*fakenhn.Fake, *helseid.Client, []byte) {
	t.Helper()
	priv, pub, err := fakenhn.NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fakenhn.Listen(fakenhn.ClientID, pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	key, err := helseid.ParseKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := helseid.New(helseid.Config{TokenURL: f.TokenURL(), ClientID: fakenhn.ClientID, Scope: fakenhn.Scope, Audience: f.URL}, key)
	if err != nil {
		t.Fatal(err)
	}
	return f, c, priv
}

func TestParseKeyRefusesPublicKeys(t *testing.T) {
	_, pub, err := fakenhn.NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pub.MarshalJSON()
	for name, in := range map[string][]byte{"public": b, "garbage": []byte(`{"kty":"EC"}`), "empty": nil} {
		if _, err := helseid.ParseKey(in); err == nil {
			t.Errorf("%s: ParseKey accepted it", name)
		}
	}
}

func TestTokenIsCachedUntilShortlyBeforeExpiry(t *testing.T) {
	f, c, _ := setup(t)
	// Tokens live 62 s: the client keeps one until a minute before expiry, 2 s.
	f.HelseID.TokenTTL = 62 * time.Second
	ctx := context.Background()
	first, err := c.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	again, err := c.Token(ctx)
	if err != nil || again != first {
		t.Fatalf("second Token = new token or error %v; want the cached one", err)
	}
	if got := f.HelseID.Issued(); got != 1 {
		t.Errorf("tokens issued = %d, want 1", got)
	}
	time.Sleep(2100 * time.Millisecond)
	third, err := c.Token(ctx)
	if err != nil {
		t.Fatalf("Token near expiry: %v", err)
	}
	if third == first || f.HelseID.Issued() != 2 {
		t.Errorf("near expiry: same token or issued=%d; want a new token (issued 2)", f.HelseID.Issued())
	}
}

func TestDoAuthorisesAndRenewsARefusedToken(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	call := func() int {
		req, _ := http.NewRequest(http.MethodGet, f.URL+fakenhn.LatestPath, nil)
		req.Header.Set("api-version", "2")
		resp, err := c.Do(ctx, req)
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if got := call(); got != http.StatusNotFound { // no events yet: 404 problem
		t.Fatalf("first call status %d, want 404 (authorised, empty register)", got)
	}
	f.HelseID.ExpireTokens()
	if got := call(); got != http.StatusNotFound {
		t.Fatalf("after expiry status %d, want 404 with a renewed token", got)
	}
	if got := f.HelseID.Issued(); got != 2 {
		t.Errorf("tokens issued = %d, want 2 (one renewal)", got)
	}
}

// TestFakeChecksWhatHelseIDChecks sends token requests that differ from a
// correct one in one respect each; the fake must refuse every one.
func TestFakeChecksWhatHelseIDChecks(t *testing.T) {
	f, c, priv := setup(t)
	key, _ := helseid.ParseKey(priv)
	otherPriv, _, _ := fakenhn.NewClientKey()
	otherKey, _ := helseid.ParseKey(otherPriv)
	nonce := f.HelseID.Nonce()

	assertion := func(k jose.JSONWebKey, mutate func(*jwt.Claims)) string {
		now := time.Now()
		cl := jwt.Claims{Issuer: fakenhn.ClientID, Subject: fakenhn.ClientID, Audience: jwt.Audience{f.URL},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: time.Now().String()}
		if mutate != nil {
			mutate(&cl)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithType(helseid.AssertionTyp))
		if err != nil {
			t.Fatal(err)
		}
		out, err := jwt.Signed(s).Claims(cl).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	replayed := assertion(key, nil)
	proofFor := func(url string) string {
		p, err := c.Proof(http.MethodPost, url, "", nonce)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name      string
		assertion string
		proof     string
		wantError string
	}{
		{"good", assertion(key, nil), proofFor(f.TokenURL()), ""},
		{"replayed assertion", replayed, proofFor(f.TokenURL()), "invalid_client"},
		{"signed by another key", assertion(otherKey, nil), proofFor(f.TokenURL()), "invalid_client"},
		{"wrong audience", assertion(key, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://elsewhere"} }), proofFor(f.TokenURL()), "invalid_client"},
		{"expired", assertion(key, func(c *jwt.Claims) {
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(time.Now().Add(-3*time.Minute)), jwt.NewNumericDate(time.Now().Add(-2*time.Minute))
		}), proofFor(f.TokenURL()), "invalid_client"},
		{"iat in the future", assertion(key, func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(time.Now().Add(10 * time.Minute)) }), proofFor(f.TokenURL()), "invalid_client"},
		{"no jti", assertion(key, func(c *jwt.Claims) { c.ID = "" }), proofFor(f.TokenURL()), "invalid_client"},
		{"proof for another URL", assertion(key, nil), proofFor(f.URL + "/other"), "invalid_dpop_proof"},
		{"no proof", assertion(key, nil), "", "invalid_dpop_proof"},
	}
	first := true
	for _, tc := range cases {
		if tc.name == "replayed assertion" && first {
			// use it once, successfully, so the second use is a replay
			if got := postToken(t, f, replayed, proofFor(f.TokenURL())); got != "" {
				t.Fatalf("first use of the assertion refused: %s", got)
			}
			first = false
		}
		if got := postToken(t, f, tc.assertion, tc.proof); got != tc.wantError {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.wantError)
		}
	}
}

func postToken(t *testing.T, f *fakenhn.Fake, assertion, proof string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.TokenURL(), strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "client_id": {fakenhn.ClientID}, "client_assertion_type": {helseid.AssertionType},
		"client_assertion": {assertion}, "scope": {fakenhn.Scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	s := string(b)
	i := strings.Index(s, `"error":"`)
	if i < 0 {
		return s
	}
	s = s[i+9:]
	return s[:strings.Index(s, `"`)]
}
