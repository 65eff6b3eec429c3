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
