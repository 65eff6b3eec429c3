// Package testenv gives each integration test its own copy of the
// template's tables and queues on the shared emulator.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"privacycore/infra/emulator"
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
	l, err := stack.Up(ctx, tmpl, srv, name, map[string]string{"PersonKeySecretParameter": secret})
	if err != nil {
		t.Fatalf("provision test stack: %v", err)
	}
	if err := l.PutSecret(ctx, secret, personkey.DevSecret); err != nil {
		t.Fatalf("provision test stack: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Logf("teardown: %v", err)
		}
		if err := l.DeleteSecret(context.Background(), secret); err != nil {
			t.Logf("teardown: %v", err)
		}
	})
	return l
}
