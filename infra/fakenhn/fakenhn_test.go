package fakenhn_test

import (
	"context"
	"net/http"
	"testing"

	"privacycore/infra/fakenhn"
	"privacycore/shared/platform/helseid"
)

func client(t *testing.T, f *fakenhn.Fake, priv []byte) *helseid.Client {
	t.Helper()
	key, err := helseid.ParseKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := helseid.New(helseid.Config{TokenURL: f.TokenURL(), ClientID: fakenhn.ClientID, Scope: fakenhn.Scope, Audience: f.URL}, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAPIChecksTheDPoPProof sends API calls that differ from a correct one
// in one respect each.
func TestAPIChecksTheDPoPProof(t *testing.T) {
	priv, pub, err := fakenhn.NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fakenhn.Listen(fakenhn.ClientID, pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	c := client(t, f, priv)
	otherPriv, _, _ := fakenhn.NewClientKey()
	other := client(t, f, otherPriv) // never registered: only its proofs are used
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	url := f.URL + fakenhn.LatestPath
	proof := func(c *helseid.Client, u, tok string) string {
		p, err := c.Proof(http.MethodGet, u, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	replayed := proof(c, url, tok)
	cases := []struct {
		name, auth, proof, version string
		want                       int
	}{
		{"good", "DPoP " + tok, proof(c, url, tok), "2", http.StatusNotFound},
		{"replayed proof", "DPoP " + tok, replayed, "2", http.StatusUnauthorized},
		{"proof without ath", "DPoP " + tok, proof(c, url, ""), "2", http.StatusUnauthorized},
		{"proof for another URL", "DPoP " + tok, proof(c, f.URL+fakenhn.EventsPath, tok), "2", http.StatusUnauthorized},
		{"proof by another key", "DPoP " + tok, proof(other, url, tok), "2", http.StatusUnauthorized},
		{"bearer, not DPoP", "Bearer " + tok, proof(c, url, tok), "2", http.StatusUnauthorized},
		{"tampered token", "DPoP " + tok + "x", proof(c, url, tok+"x"), "2", http.StatusUnauthorized},
		{"no api-version", "DPoP " + tok, proof(c, url, tok), "", http.StatusBadRequest},
	}
	for i, tc := range cases {
		if i == 1 {
			// the good case used a different proof; send the replayed one once first
			send(t, url, "DPoP "+tok, replayed, "2")
		}
		if got := send(t, url, tc.auth, tc.proof, tc.version); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
}

func send(t *testing.T, url, auth, proof, version string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", auth)
	req.Header.Set("DPoP", proof)
	if version != "" {
		req.Header.Set("api-version", version)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
