// Package fakenhn fakes the two Norsk helsenett services the privacy core
// calls, for the local stack and tests: HelseID's token endpoint and
// Persontjenesten (the population register's event feed and person
// look-ups). Both check what the real ones check (see HelseID and
// Register), so the client code that talks to them is the production code.
//
// One HTTP server serves both, plus admin routes that change the register:
//
//	POST /connect/token             HelseID token endpoint
//	GET  /api/legal-basis/event     Persontjenesten (see Register)
//	POST /admin/events              {"type":"death","pid":"..."} adds a register change and its event
//	GET  /admin/latest              {"sequenceNumber":N}
package fakenhn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ClientID is the client id the local stack uses.
const ClientID = "privacycore-local"

// Fake is the fake HelseID and Persontjenesten on one server.
type Fake struct {
	URL      string // http://127.0.0.1:port
	HelseID  *HelseID
	Register *Register
	srv      *http.Server
}

// Start serves a fake on l until Close; it registers client with its
// public key and Persontjenesten's scope.
func Start(l net.Listener, clientID string, pub jose.JSONWebKey) *Fake {
	url := "http://" + l.Addr().String()
	h := NewHelseID(url, 5*time.Minute)
	h.RegisterClient(clientID, pub, Scope)
	f := &Fake{URL: url, HelseID: h, Register: NewRegister(h)}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f
}

// Listen starts a fake on a free loopback port.
func Listen(clientID string, pub jose.JSONWebKey) (*Fake, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakenhn: listen: %w", err)
	}
	return Start(l, clientID, pub), nil
}

// Close stops the server.
func (f *Fake) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return f.srv.Shutdown(ctx)
}

// TokenURL is the fake HelseID's token endpoint.
func (f *Fake) TokenURL() string { return f.URL + TokenPath }

// ServeHTTP routes to the token endpoint, the register API and the admin routes.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == TokenPath:
		f.HelseID.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		f.Register.ServeHTTP(w, r)
	case r.URL.Path == "/admin/events" && r.Method == http.MethodPost:
		var c Change
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			problemDetails(w, http.StatusBadRequest, "Bad request", "body: a JSON change")
			return
		}
		seq, err := f.Register.Apply(c)
		if err != nil {
			problemDetails(w, http.StatusBadRequest, "Bad request", err.Error())
			return
		}
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]int64{"sequenceNumber": seq})
	case r.URL.Path == "/admin/latest" && r.Method == http.MethodGet:
		writeJSON(w, map[string]int64{"sequenceNumber": f.Register.Latest()})
	default:
		problemDetails(w, http.StatusNotFound, "Not found", "no such route")
	}
}

// NewClientKey makes a P-256 private JWK for a local HelseID client, as an
// operator makes one for the real HelseID (see README, operations).
func NewClientKey() (private []byte, public jose.JSONWebKey, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, public, err
	}
	jwk := jose.JSONWebKey{Key: k, KeyID: randomString(), Algorithm: string(jose.ES256), Use: "sig"}
	private, err = jwk.MarshalJSON()
	if err != nil {
		return nil, public, err
	}
	if !jwk.Valid() {
		return nil, public, errors.New("fakenhn: generated key is not valid")
	}
	return private, jwk.Public(), nil
}

// StartLocal starts a fake for a local stack: it makes a client key and
// returns the fake, the private JWK to store as the SecureString named
// keyParam, and the template parameters that point the stack at the fake.
// The feed starts at sequence number 1: the fake register begins empty.
func StartLocal(keyParam string) (*Fake, []byte, map[string]string, error) {
	priv, pub, err := NewClientKey()
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := Listen(ClientID, pub)
	if err != nil {
		return nil, nil, nil, err
	}
	return f, priv, map[string]string{
		"RegisterApiUrl": f.URL, "HelseIdTokenUrl": f.TokenURL(), "HelseIdAudience": f.URL,
		"HelseIdClientId": ClientID, "HelseIdScope": Scope, "HelseIdKeyParameter": keyParam, "RegisterFeedStart": "1",
	}, nil
}
