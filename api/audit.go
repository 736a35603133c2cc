package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// AuditLog lists the audit log of people's changes.
type AuditLog interface {
	List(ctx context.Context, f incidents.AuditFilter) ([]incidents.AuditEntry, error)
}

type auditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Platform string    `json:"platform"`
	Replica  string    `json:"replica"`
	Action   string    `json:"action"`
	Incident *int64    `json:"incident"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
}

type auditPage struct {
	Entries []auditEntry `json:"entries"`
	// Next is the before= of the following (older) page; null when this
	// page came back short, so there is none.
	Next *int64 `json:"next"`
}

// defaultAuditPage is how many entries a listing gives without a limit.
const defaultAuditPage = 100

// auditFilter reads GET /api/v1/audit's query: actor, incident, before
// (an entry id, the cursor), since (RFC 3339) and limit (1 to 500).
func auditFilter(r *http.Request) (incidents.AuditFilter, error) {
	q := r.URL.Query()
	f := incidents.AuditFilter{Actor: q.Get("actor"), Limit: defaultAuditPage}
	for _, p := range []struct {
		name string
		to   *int64
	}{{"incident", &f.IncidentID}, {"before", &f.Before}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, fmt.Errorf("%s=%q is not a positive number", p.name, v)
		}
		*p.to = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > incidents.MaxAuditPage {
			return f, fmt.Errorf("limit=%q is not a number from 1 to %d", v, incidents.MaxAuditPage)
		}
		f.Limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, fmt.Errorf("since=%q is not a time like 2026-11-30T08:00:00Z", v)
		}
		f.Since = t
	}
	return f, nil
}

// audit lists the audit log, newest first, a page at a time.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := s.opts.Audit.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, "listing the audit log", err)
		return
	}
	page := auditPage{Entries: make([]auditEntry, len(list))}
	for i, e := range list {
		page.Entries[i] = auditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Platform: e.Platform, Replica: e.Replica, Action: e.Action,
			Outcome: e.Outcome, Detail: e.Detail}
		if e.IncidentID != 0 {
			page.Entries[i].Incident = &list[i].IncidentID
		}
	}
	if len(list) == f.PageSize() {
		page.Next = &list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}
