package incidents

import (
	"errors"
	"fmt"
)

// Error codes. A domain error carries a message written for the person who
// caused it (a chat user or an API client); anything else is internal and its
// details belong in the log, not in the reply.
const (
	EINVALID  = "invalid"   // the request itself is wrong
	ENOTFOUND = "not_found" // no such incident
	ECONFLICT = "conflict"  // the request does not fit the incident's current state
)

// Error is a domain error whose Message is safe and useful to show to users.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns a domain error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the domain error in err's chain, or "" when
// err is not a domain error (an internal failure).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrorMessage returns the user-facing message of a domain error, or a
// generic one for internal errors so that no internal detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error; the details are in runbot's log"
}
