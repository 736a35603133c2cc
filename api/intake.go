package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

type ingestedJSON struct {
	ID     int64 `json:"id"`
	Opened bool  `json:"opened"`
}

type intakeResponse struct {
	Accepted  int            `json:"accepted"`
	Incidents []ingestedJSON `json:"incidents"` // one per alert, in the order sent
}

// intake answers 2xx only after the alerts are committed to disk, so a
// source that gets a 2xx may forget them; anything else means "send again".
func (s *Server) intake(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	if !slices.Contains(alerts.Sources, source) {
		s.metrics.rejected.WithLabelValues("unknown", "unknown_source").Inc()
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown alert source %q: use one of alertmanager, grafana, generic, log", source))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.reject(w, r, source, "too_large", http.StatusRequestEntityTooLarge,
				fmt.Errorf("body is larger than %d bytes: split the batch or raise max_body_bytes", tooLarge.Limit))
			return
		}
		s.reject(w, r, source, "read_error", http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
		return
	}
	parsed, err := alerts.Parse(source, body)
	if err != nil {
		s.reject(w, r, source, "invalid", http.StatusBadRequest, err)
		return
	}
	results, err := s.opts.Incidents.Ingest(r.Context(), parsed)
	if err != nil {
		s.metrics.rejected.WithLabelValues(source, "store_error").Inc()
		s.opts.Logger.Error("storing alerts failed", "operation", "receiving alerts", "source", source,
			"alerts", len(parsed), "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "could not store the alerts; send them again")
		return
	}
	resp := intakeResponse{Accepted: len(results), Incidents: make([]ingestedJSON, len(results))}
	opened := 0
	for i, res := range results {
		resp.Incidents[i] = ingestedJSON{ID: res.IncidentID, Opened: res.Opened}
		if res.Opened {
			opened++
		}
	}
	s.metrics.received.WithLabelValues(source).Add(float64(len(results)))
	s.metrics.opened.WithLabelValues(source).Add(float64(opened))
	writeJSON(w, http.StatusOK, resp)
}

// reject refuses a payload and logs why: a misconfigured source is
// otherwise invisible until someone wonders why nothing pages.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source, reason string, status int, err error) {
	s.metrics.rejected.WithLabelValues(source, reason).Inc()
	s.opts.Logger.Warn("rejected alerts", "operation", "receiving alerts", "source", source,
		"remote", r.RemoteAddr, "status", status, "error", err)
	writeError(w, status, err.Error())
}
