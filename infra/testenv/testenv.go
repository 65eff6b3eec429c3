// Package testenv gives each integration test its own copy of the
// template's tables and queues on the shared emulator.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"privacycore/infra/emulator"
	"privacycore/infra/fakenhn"
	"privacycore/infra/stack"
	"privacycore/shared/domain/personkey"
)

// New creates the template's tables and queues under a fresh stack name and
// deletes them when the test ends.
func New(t testing.TB) *stack.Local {
	t.Helper()
	srv := emulator.Shared(t)
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "t" + hex.EncodeToString(b[:])
	// Each test stack has its own secret parameter, as each has its own table.
	secret := "/" + name + "/person-key-secret"
	// Each has its own fake population register and HelseID, too.
	keyParam := "/" + name + "/helseid-client-key"
	nhn, key, params, err := fakenhn.StartLocal(keyParam)
	if err != nil {
		t.Fatalf("start fake register: %v", err)
	}
	t.Cleanup(func() { _ = nhn.Close() })
	params["PersonKeySecretParameter"] = secret
	l, err := stack.Up(ctx, tmpl, srv, name, params)
	if err != nil {
		t.Fatalf("provision test stack: %v", err)
	}
	if err := l.PutSecret(ctx, secret, personkey.DevSecret); err != nil {
		t.Fatalf("provision test stack: %v", err)
	}
	if err := l.PutSecret(ctx, keyParam, string(key)); err != nil {
		t.Fatalf("provision test stack: %v", err)
	}
	registers.Store(l, nhn)
	t.Cleanup(func() {
		registers.Delete(l)
		_ = l.DeleteSecret(context.Background(), keyParam)
		if err := l.Down(context.Background()); err != nil {
			t.Logf("teardown: %v", err)
		}
		if err := l.DeleteSecret(context.Background(), secret); err != nil {
			t.Logf("teardown: %v", err)
		}
	})
	return l
}

// registers holds each test stack's fake register, by stack.
var registers sync.Map

// LookupNHN returns the fake register of a stack testenv.New made.
func LookupNHN(local *stack.Local) (*fakenhn.Fake, bool) {
	f, ok := registers.Load(local)
	if !ok {
		return nil, false
	}
	return f.(*fakenhn.Fake), true
}

// NHN returns the fake Persontjenesten and HelseID that local's functions call.
func NHN(t testing.TB, local *stack.Local) *fakenhn.Fake {
	t.Helper()
	f, ok := registers.Load(local)
	if !ok {
		t.Fatal("testenv: no fake register for this stack (made by testenv.New?)")
	}
	return f.(*fakenhn.Fake)
}
