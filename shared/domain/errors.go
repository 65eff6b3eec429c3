// Package domain holds the error vocabulary shared by every part of the
// privacy core. It knows nothing about HTTP, AWS or storage.
package domain

import (
	"errors"
	"fmt"
)

// Code is a category of failure. Adapters map codes to their own protocol
// (HTTP status, batch item failure) in exactly one place each.
type Code string

// The error codes. Their string values are part of the public API.
const (
	EInvalid            Code = "invalid"
	EUnauthorized       Code = "unauthorized"
	EForbidden          Code = "forbidden"
	ENotFound           Code = "not_found"
	EConflict           Code = "conflict"
	EPreconditionFailed Code = "precondition_failed"
	ETooLarge           Code = "too_large"
	EMethodNotAllowed   Code = "method_not_allowed"
	EUnsupportedMedia   Code = "unsupported_media_type"
	EInternal           Code = "internal"
	// EUnavailable: a register the rule depends on did not answer in time;
	// nothing was changed, and the same request may succeed later.
	EUnavailable Code = "unavailable"
)

// ErrInvalidCursor is a paging cursor that does not belong to the list it is
// used on (storage returns it; InvalidCursor is what the client sees).
var ErrInvalidCursor = errors.New("invalid cursor")

// InvalidCursor is the client's problem for a cursor that is not valid.
func InvalidCursor() *Error {
	return Errorf(EInvalid, "invalid_cursor", "The cursor is not valid.")
}

// Error is a failure a caller can act on. Reason is a stable, machine-readable
// snake_case string (for example "unknown_level"); Message is safe to show a
// client and must never contain a person id or internal error text.
type Error struct {
	Code    Code
	Reason  string
	Message string
	// Extensions are extra members for the client (for example the list of
	// powers of attorney that block a withdrawal). They must be safe to show.
	Extensions map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s): %s", e.Code, e.Reason, e.Message)
}

// Errorf returns an *Error with the given code and reason.
func Errorf(code Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with an extension member added.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extensions = make(map[string]any, len(e.Extensions)+1)
	for k, v := range e.Extensions {
		c.Extensions[k] = v
	}
	c.Extensions[key] = value
	return &c
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// AsError returns the first *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
