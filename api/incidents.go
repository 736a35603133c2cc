package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

type slaJSON struct {
	AckDue          time.Time `json:"ack_due"`
	RestoreDue      time.Time `json:"restore_due"`
	AckBreached     bool      `json:"ack_breached"`
	RestoreBreached bool      `json:"restore_breached"`
}

type eventJSON struct {
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"`
	Actor string    `json:"actor"`
	Text  string    `json:"text"`
	// Related is the other incident of a link or a merge.
	Related int64 `json:"related,omitempty"`
}

type incidentJSON struct {
	ID          int64                     `json:"id"`
	Fingerprint string                    `json:"fingerprint"`
	Service     string                    `json:"service"`
	Operation   string                    `json:"operation"`
	Title       string                    `json:"title"`
	Source      string                    `json:"source"`
	Priority    string                    `json:"priority"`
	State       string                    `json:"state"`
	AlertCount  int                       `json:"alert_count"`
	Labels      map[string]map[string]int `json:"labels"`
	OpenedAt    time.Time                 `json:"opened_at"`
	// StartedAt is when the source says the trouble began, null when it
	// does not say; the SLA counts from opened_at.
	StartedAt      *time.Time  `json:"started_at"`
	AcknowledgedAt *time.Time  `json:"acknowledged_at"`
	AcknowledgedBy string      `json:"acknowledged_by,omitempty"`
	MitigatedAt    *time.Time  `json:"mitigated_at"`
	MitigatedBy    string      `json:"mitigated_by,omitempty"`
	ResolvedAt     *time.Time  `json:"resolved_at"`
	ResolvedBy     string      `json:"resolved_by,omitempty"`
	LastSeenAt     *time.Time  `json:"last_seen_at"`
	SourceResolved bool        `json:"source_resolved"`
	Assignee       string      `json:"assignee,omitempty"`
	Channel        string      `json:"channel,omitempty"`
	HypercareUntil *time.Time  `json:"hypercare_until,omitempty"`
	MergedInto     int64       `json:"merged_into,omitempty"`
	Linked         []int64     `json:"linked,omitempty"`
	Storm          int64       `json:"storm,omitempty"`
	SLA            slaJSON     `json:"sla"`
	Timeline       []eventJSON `json:"timeline,omitempty"`
}

func toJSON(inc *incidents.Incident, now time.Time) incidentJSON {
	s := inc.SLAAt(now)
	out := incidentJSON{
		ID: inc.ID, Fingerprint: inc.Fingerprint, Service: inc.Service, Operation: inc.Operation,
		Title: inc.Title, Source: inc.Source, Priority: inc.Priority.String(), State: string(inc.State),
		AlertCount: inc.AlertCount, Labels: inc.Labels.Counts(), OpenedAt: inc.OpenedAt,
		StartedAt:      timePtr(inc.StartedAt),
		AcknowledgedAt: timePtr(inc.AcknowledgedAt), AcknowledgedBy: inc.AcknowledgedBy,
		MitigatedAt: timePtr(inc.MitigatedAt), MitigatedBy: inc.MitigatedBy,
		ResolvedAt: timePtr(inc.ResolvedAt), ResolvedBy: inc.ResolvedBy,
		LastSeenAt: timePtr(inc.LastSeenAt), SourceResolved: inc.SourceResolved,
		Assignee: inc.Assignee, Channel: inc.Channel, HypercareUntil: timePtr(inc.HypercareUntil),
		MergedInto: inc.MergedInto, Linked: inc.Linked, Storm: inc.StormID,
		SLA: slaJSON{AckDue: s.AckDue, RestoreDue: s.RestoreDue, AckBreached: s.AckBreached, RestoreBreached: s.RestoreBreached},
	}
	for _, e := range inc.Timeline {
		out.Timeline = append(out.Timeline, eventJSON{At: e.At, Kind: string(e.Kind), Actor: e.Actor, Text: e.Text, Related: e.Related})
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("incident id %q is not a positive number", r.PathValue("id")))
		return
	}
	inc, err := s.opts.Incidents.FindIncident(r.Context(), id)
	if err != nil {
		s.fail(w, r, "reading incident", err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(inc, s.opts.Now()))
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := s.opts.Incidents.FindIncidents(r.Context(), f)
	if err != nil {
		s.fail(w, r, "listing incidents", err)
		return
	}
	now := s.opts.Now()
	out := struct {
		Incidents []incidentJSON `json:"incidents"`
	}{Incidents: make([]incidentJSON, 0, len(list))}
	for _, inc := range list {
		out.Incidents = append(out.Incidents, toJSON(inc, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// parseFilter reads state, service, priority and limit. Lists are
// comma-separated; state=active means every state but resolved. Unknown
// parameters are refused so that a typo does not silently list everything.
func parseFilter(r *http.Request) (incidents.IncidentFilter, error) {
	var f incidents.IncidentFilter
	for key, vals := range r.URL.Query() {
		v := strings.Join(vals, ",")
		switch key {
		case "state":
			for _, s := range splitList(v) {
				if s == "active" {
					f.States = append(f.States, incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated)
					continue
				}
				st, err := incidents.ParseState(s)
				if err != nil {
					return f, fmt.Errorf("state: %s (or active)", incidents.ErrorMessage(err))
				}
				f.States = append(f.States, st)
			}
		case "service":
			f.Service = strings.TrimSpace(v)
		case "priority":
			for _, s := range splitList(v) {
				p, err := incidents.ParsePriority(s)
				if err != nil {
					return f, fmt.Errorf("priority: %s", incidents.ErrorMessage(err))
				}
				f.Priorities = append(f.Priorities, p)
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return f, fmt.Errorf("limit: %q is not a positive number", v)
			}
			f.Limit = n
		default:
			return f, fmt.Errorf("unknown filter %q: use state, service, priority or limit", key)
		}
	}
	return f, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
