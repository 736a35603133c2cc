package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/runbot-dev/runbot/incidents"
)

// Postmortems reads incidents' post-mortem drafts.
type Postmortems interface {
	// Postmortem returns a version of an incident's draft, 0 the latest.
	Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error)
}

// postmortem serves an incident's post-mortem draft as markdown, the
// latest or ?version=N.
func (s *Server) postmortem(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("incident id %q is not a positive number", r.PathValue("id")))
		return
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("version %q is not a positive number", v))
			return
		}
	}
	pm, err := s.opts.Incidents.Postmortem(r.Context(), id, version)
	if err != nil {
		s.fail(w, r, "reading post-mortem", err)
		return
	}
	if !pm.Drafted() {
		writeError(w, http.StatusConflict, fmt.Sprintf("post-mortem v%d of incident #%d is being drafted; try again shortly", pm.Version, id))
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Runbot-Postmortem-Version", strconv.Itoa(pm.Version))
	w.Header().Set("X-Runbot-Postmortem-Source", pm.Source)
	w.Write([]byte(pm.Markdown))
}
