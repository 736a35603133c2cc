package httperr_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/httperr"
	"github.com/runbot-dev/runbot/incidents"
)

// TestFail: each class of error gets its status; only runbot's own
// failures are logged, once, with the operation, and their cause is never
// in the answer.
func TestFail(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		logged bool
		body   string
	}{
		{incidents.Errorf(incidents.EINVALID, "say a priority"), 400, false, "say a priority"},
		{incidents.Errorf(incidents.ENOTFOUND, "no incident #9"), 404, false, "no incident #9"},
		{incidents.Errorf(incidents.ECONFLICT, "already resolved"), 409, false, "already resolved"},
		{incidents.Errorf(incidents.EFORBIDDEN, "team only"), 403, false, "team only"},
		{incidents.Unavailable(errors.New("database or disk is full")), 503, true, "try again"},
		{fmt.Errorf("listing incidents: %w", errors.New("no such table: incidents")), 500, true, "internal error"},
		{&incidents.Error{Message: "a domain error without a code"}, 500, true, "internal error"},
	} {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		w := httptest.NewRecorder()
		httperr.Fail(w, httptest.NewRequest("GET", "/api/v1/incidents", nil), logger, "listing incidents", tc.err)
		if w.Code != tc.status {
			t.Errorf("%v: status %d, want %d", tc.err, w.Code, tc.status)
		}
		if !strings.Contains(w.Body.String(), tc.body) || strings.Contains(w.Body.String(), "no such table") || strings.Contains(w.Body.String(), "disk is full") {
			t.Errorf("%v: answer %q", tc.err, w.Body)
		}
		if got := strings.Count(logs.String(), "operation=\"listing incidents\""); got != map[bool]int{true: 1, false: 0}[tc.logged] {
			t.Errorf("%v: logged %d times: %s", tc.err, got, logs.String())
		}
		if tc.status == 503 && w.Header().Get("Retry-After") == "" {
			t.Errorf("%v: 503 without Retry-After", tc.err)
		}
	}
}

func TestStatusOfUnknownCodeIsInternal(t *testing.T) {
	if httperr.Status("") != 200 || httperr.Status("what") != 500 || httperr.Status(incidents.ErrorCode(errors.New("x"))) != 500 {
		t.Fatal("an unknown code must be an internal error, no code a success")
	}
}
