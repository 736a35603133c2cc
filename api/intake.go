package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// intake answers 2xx only after the alerts are committed, so a source that
// gets a 2xx may forget them; anything else means "send again". The answer
// lists, per alert in the order sent, its incident and whether it opened.
func (s *Server) intake(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	if !slices.Contains(alerts.Sources, source) {
		s.metrics.rejected.WithLabelValues("unknown", "unknown_source").Inc()
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown alert source %q: use one of alertmanager, grafana, generic, log", source))
		return
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
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
	results, err := s.ingest(r, parsed)
	if err != nil {
		s.metrics.rejected.WithLabelValues(source, "store_error").Inc()
		s.opts.Logger.Error("storing alerts failed", "operation", "receiving alerts", "source", source,
			"alerts", len(parsed), "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "could not store the alerts; send them again")
		return
	}
	opened := 0
	for _, res := range results {
		if res.Opened {
			opened++
		}
	}
	s.metrics.received[source].Add(float64(len(results)))
	s.metrics.opened[source].Add(float64(opened))
	w.Header().Set("Content-Type", "application/json")
	w.Write(appendIntakeResponse(make([]byte, 0, 32+32*len(results)), results))
}

// Heartbeats is the dead-man's switch as intake sees it.
type Heartbeats interface {
	// Heard takes an alert and reports whether it is the heartbeat, which
	// then opens no incident.
	Heard(a incidents.Alert) bool
}

// ingest files the alerts, but for heartbeats: those are taken by the
// dead-man's switch and answered {"id": 0, "opened": false}, so the
// answer still lists every alert in the order sent.
func (s *Server) ingest(r *http.Request, parsed []incidents.Alert) ([]incidents.Ingested, error) {
	if s.opts.Heartbeats == nil {
		return s.opts.Incidents.Ingest(r.Context(), parsed)
	}
	// Every alert is shown to the switch (it records the heartbeat's
	// time); the batch is copied only when one of them was the heartbeat,
	// which keeps ordinary batches on the intake's fast path.
	heard := make([]bool, len(parsed))
	found := false
	for i, a := range parsed {
		heard[i] = s.opts.Heartbeats.Heard(a)
		found = found || heard[i]
	}
	if !found {
		return s.opts.Incidents.Ingest(r.Context(), parsed)
	}
	var keep []incidents.Alert
	var at []int // index in parsed of each alert kept
	for i, a := range parsed {
		if !heard[i] {
			keep, at = append(keep, a), append(at, i)
		}
	}
	results := make([]incidents.Ingested, len(parsed))
	if len(keep) == 0 {
		return results, nil
	}
	filed, err := s.opts.Incidents.Ingest(r.Context(), keep)
	if err != nil {
		return nil, err
	}
	for j, res := range filed {
		results[at[j]] = res
	}
	return results, nil
}

// appendIntakeResponse writes {"accepted":N,"incidents":[{"id":1,"opened":true},...]}
// by hand: it is the answer to every alert sent, so it stays off reflection.
func appendIntakeResponse(b []byte, results []incidents.Ingested) []byte {
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(len(results)), 10)
	b = append(b, `,"incidents":[`...)
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, res.IncidentID, 10)
		b = append(b, `,"opened":`...)
		b = strconv.AppendBool(b, res.Opened)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// readBody reads a request body of at most max bytes, in one allocation
// when the sender declared its length.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, max)
	if r.ContentLength > max {
		return nil, &http.MaxBytesError{Limit: max}
	}
	if r.ContentLength > 0 {
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

// reject refuses a payload and logs why: a misconfigured source is
// otherwise invisible until someone wonders why nothing pages.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source, reason string, status int, err error) {
	s.metrics.rejected.WithLabelValues(source, reason).Inc()
	s.opts.Logger.Warn("rejected alerts", "operation", "receiving alerts", "source", source,
		"remote", r.RemoteAddr, "status", status, "error", err)
	writeError(w, status, err.Error())
}
