package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// AuditLog lists the audit log of people's changes.
type AuditLog interface {
	List(ctx context.Context, f incidents.AuditFilter) ([]incidents.AuditEntry, error)
}

// auditPageSize is how many entries the page shows at once: a screenful
// or two, the "older" link leads on.
const auditPageSize = 50

// auditView is the audit page: the entries newest first, the filters as
// typed, and the links to the pages around.
type auditView struct {
	Entries  []auditRow
	Actor    string
	Incident string
	Filtered bool
	Older    string // the next page's URL, "" when this is the last
	Newest   string // the first page's URL, "" when this is it
}

type auditRow struct {
	At, AtText string
	Actor      string
	Platform   string
	Replica    string
	Action     string
	IncidentID int64
	OK         bool
	Outcome    string
	Detail     string
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, user string) {
	q := r.URL.Query()
	v := &auditView{Actor: strings.TrimPrefix(strings.TrimSpace(q.Get("actor")), "@"), Incident: strings.TrimPrefix(strings.TrimSpace(q.Get("incident")), "#")}
	v.Filtered = v.Actor != "" || v.Incident != ""
	d := pageData{Title: "Audit log", User: user, Audit: v}
	f := incidents.AuditFilter{Actor: v.Actor, Limit: auditPageSize}
	var bad []string
	if v.Incident != "" {
		id, err := strconv.ParseInt(v.Incident, 10, 64)
		if err != nil || id < 1 {
			bad = append(bad, "an incident is a number, like 42")
		}
		f.IncidentID = id
	}
	if b := q.Get("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id < 1 {
			bad = append(bad, "that page does not exist: start from the newest")
		}
		f.Before = id
	}
	if len(bad) > 0 {
		d.Said = strings.Join(bad, "; ")
		c.renderPageStatus(w, r, "audit", http.StatusBadRequest, d)
		return
	}
	list, err := c.audit.List(r.Context(), f)
	if err != nil {
		c.fail(w, r, "listing the audit log", err)
		return
	}
	loc := c.render.Location
	if loc == nil {
		loc = time.UTC
	}
	for _, e := range list {
		v.Entries = append(v.Entries, auditRow{At: e.At.Format(time.RFC3339), AtText: e.At.In(loc).Format("2006-01-02 15:04:05"),
			Actor: e.Actor, Platform: e.Platform, Replica: e.Replica, Action: e.Action, IncidentID: e.IncidentID,
			OK: e.Outcome == incidents.AuditOK, Outcome: strings.ReplaceAll(e.Outcome, "_", " "), Detail: e.Detail})
	}
	page := func(before int64) string {
		p := url.Values{}
		if v.Actor != "" {
			p.Set("actor", v.Actor)
		}
		if v.Incident != "" {
			p.Set("incident", v.Incident)
		}
		if before != 0 {
			p.Set("before", strconv.FormatInt(before, 10))
		}
		if len(p) == 0 {
			return "/audit"
		}
		return "/audit?" + p.Encode()
	}
	if len(list) == auditPageSize {
		v.Older = page(list[len(list)-1].ID)
	}
	if f.Before != 0 {
		v.Newest = page(0)
	}
	c.renderPage(w, r, "audit", d)
}
