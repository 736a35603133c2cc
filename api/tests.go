package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// tested answers a sender's contact point test. It is answered 200 and
// opens nothing: the sender's Test button reports any other status as a
// broken contact point, and a test is no incident, so nobody is paged.
// It is recorded; 503 when that fails, so the person pressing Test learns
// runbot cannot store, as an alert would.
func (s *Server) tested(w http.ResponseWriter, r *http.Request, t *alerts.TestNotification) {
	if err := s.opts.Incidents.RecordTest(r.Context(), incidents.TestReceived{Source: t.Source, Receiver: t.Receiver, From: t.From, SentAt: t.At}); err != nil {
		s.metrics.rejected.WithLabelValues(t.Source, "store_error").Inc()
		s.opts.Logger.Log(context.WithoutCancel(r.Context()), slog.LevelError, "recording a contact point test failed",
			"operation", "receiving alerts", "source", t.Source, "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "could not record the test; send it again")
		return
	}
	s.metrics.received[t.Source].Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"accepted":1,"distinct":0,"opened":0,"updated":0,"incident_ids":[],"test":true}` + "\n"))
}
