package domain

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a random 128-bit identifier in hex. It is used for receipts,
// events and other records that need a unique, meaningless id.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics itself).
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id has the shape NewID gives (32 lower-case hex
// characters), so a malformed id is refused before any read.
func ValidID(id string) bool { return IsLowerHex(id, 32) }

// IsLowerHex reports whether s is n lower-case hex digits.
func IsLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
