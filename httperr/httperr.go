// Package httperr answers failed HTTP requests for the API and the web
// console alike: one table from error code to status, one writer, and the
// log line that an internal failure deserves (and nothing else does).
package httperr

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// Status maps an error code (incidents.ErrorCode) to its HTTP status.
// "" is no error; an unknown code is an internal error, never a success.
func Status(code string) int {
	switch code {
	case "":
		return http.StatusOK
	case incidents.EINVALID:
		return http.StatusBadRequest
	case incidents.ENOTFOUND:
		return http.StatusNotFound
	case incidents.ECONFLICT:
		return http.StatusConflict
	case incidents.EFORBIDDEN:
		return http.StatusForbidden
	case incidents.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// RetryAfter is what a client is asked to wait after a 503, in seconds: a
// full disk is rarely freed in less.
const RetryAfter = "30"

// Fail answers err: a domain error with its own message and status; an
// internal one as 500 (or 503 when storage is unavailable) with a generic
// message, its cause logged once with the operation. Callers log nothing
// more.
func Fail(w http.ResponseWriter, r *http.Request, logger *slog.Logger, op string, err error) {
	status := Log(logger, r, op, err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfter)
	}
	Respond(w, r, status, incidents.ErrorMessage(err))
}

// Log logs err when it is internal, with the operation, and returns the
// status to answer it with: for callers that answer in a shape of their
// own (a form's redirect).
func Log(logger *slog.Logger, r *http.Request, op string, err error) int {
	status := Status(incidents.ErrorCode(err))
	if incidents.Internal(err) && logger != nil {
		logger.Error("request failed", "operation", op, "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	}
	return status
}

// Respond writes a message with a status: {"error": msg} as JSON to the
// API and to scripts that accept JSON, plain text to a browser.
func Respond(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		WriteJSON(w, status, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n")) // the status is sent; a broken connection has nobody left to tell
}

func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json") ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
}

// WriteJSON writes v as JSON with a status; HTML is not escaped, since no
// answer is ever read as a page.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the status is sent; a broken connection has nobody left to tell
}
