package incidents

import (
	"errors"
	"fmt"
)

// Error codes. A domain error carries a message written for the person who
// caused it (a chat user or an API client); anything else is internal and its
// details belong in the log, not in the reply.
const (
	EINVALID   = "invalid"   // the request itself is wrong
	ENOTFOUND  = "not_found" // no such incident
	ECONFLICT  = "conflict"  // the request does not fit the incident's current state
	EFORBIDDEN = "forbidden" // the person may not do this
	// EUNAVAILABLE is runbot unable to store anything for now (a full or
	// failing disk): the request was fine and may be sent again later.
	EUNAVAILABLE = "unavailable"
	// EINTERNAL is every failure that is not the requester's doing and has
	// no better class: a bug, a broken database. Its cause goes to the log.
	EINTERNAL = "internal"
)

// Error is a domain error whose Message is safe and useful to show to users.
// Err, when set, is the cause: logged, never shown.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a domain error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable wraps a storage failure that a later try may not meet
// (a full disk): the requester is told to try again, the cause is logged.
func Unavailable(err error) error {
	return &Error{Code: EUNAVAILABLE, Message: "runbot cannot store anything right now; try again in a minute", Err: err}
}

// ErrorCode returns the code of the domain error in err's chain, "" for no
// error, and EINTERNAL for any other error: an unknown failure is never
// mistaken for a success.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return EINTERNAL
}

// Internal reports whether err is runbot's failure rather than the
// requester's: its cause belongs in the log.
func Internal(err error) bool {
	code := ErrorCode(err)
	return code == EINTERNAL || code == EUNAVAILABLE
}

// ErrorMessage returns the user-facing message of a domain error, or a
// generic one for internal errors so that no internal detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL && e.Code != "" {
		return e.Message
	}
	return "internal error; the details are in runbot's log"
}
