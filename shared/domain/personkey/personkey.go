// Package personkey derives the pseudonymous key under which a person's data
// is stored: HMAC-SHA256 of the person id with a secret. Table keys, logs and
// metrics only ever see this key, never the id itself.
package personkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
)

// MinSecretLen is the shortest secret accepted (256 bits).
const MinSecretLen = 32

// DevSecret is the fixed key used by the local stack and tests. It must
// never be configured in a deployed environment.
const DevSecret = "local-development-person-key-0123456789abcdef"

// Key is a person's pseudonymous key: 64 lower-case hex characters.
type Key string

// Keyer computes person keys with one secret.
type Keyer struct{ secret []byte }

// New returns a Keyer for the secret, which must be at least MinSecretLen bytes.
func New(secret []byte) (*Keyer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("personkey: secret must be at least 32 bytes")
	}
	return &Keyer{secret: append([]byte(nil), secret...)}, nil
}

// Key returns the person key of id.
func (k *Keyer) Key(id nin.ID) Key {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(id.Digits()))
	return Key(hex.EncodeToString(m.Sum(nil)))
}

// ParseRef reads a reference to a person as the person selector and the
// powers of attorney give it out: the person's key itself. ok is false
// unless ref has a key's shape (64 lower-case hex characters).
func ParseRef(ref string) (k Key, ok bool) {
	if !domain.IsLowerHex(ref, 2*sha256.Size) {
		return "", false
	}
	return Key(ref), true
}
