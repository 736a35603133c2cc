package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// What one intake request may cost. Legitimate batches are large and must
// go in whole: Alertmanager sends a group as one notification, never
// split, and drops it on a 4xx (a fleet-wide crash loop of 1,800 pods is
// 1.8 MB). What a request must not do is hold the writer or the heap for
// the length of what it carries: copies of an alert are filed as one with
// a count (alerts.Batch), distinct alerts are bounded, and the store
// commits a batch a chunk at a time, letting other requests in between.
const (
	// jsonBodyFloor is the least body limit of the JSON sources, whatever
	// max_body_bytes says: below it a real Alertmanager group is lost.
	jsonBodyFloor = 8 << 20
	// maxAlertsPerRequest bounds the distinct alerts of one request; its
	// repeats do not count.
	maxAlertsPerRequest = 10000
	// listedAlerts is the largest batch whose answer lists every alert.
	listedAlerts = 100
	// largeBody is the body size from which a request waits for a turn
	// among large ones (Server.large); a thousand ordinary alerts is less.
	largeBody = 256 << 10
)

// intake answers 2xx only after the alerts are committed, so a source that
// gets a 2xx may forget them; anything else means "send again". The answer
// sums up what was filed; for up to listedAlerts alerts it also lists, per
// alert in the order sent, its incident and whether it opened it.
func (s *Server) intake(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	if !slices.Contains(alerts.Sources, source) {
		s.metrics.rejected.WithLabelValues("unknown", "unknown_source").Inc()
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown alert source %q: use one of alertmanager, grafana, generic, log", source))
		return
	}
	if ct := r.Header.Get("Content-Type"); source != alerts.SourceLog && !isJSON(ct) {
		// A web page can POST text/plain or a form to any site without
		// asking first; JSON it cannot, so requiring it keeps pages out.
		s.reject(w, r, source, "content_type", http.StatusUnsupportedMediaType, fmt.Errorf(
			"Content-Type %q is not accepted for %s alerts: send application/json (curl: -H 'Content-Type: application/json')", ct, source))
		return
	}
	var framing alerts.Framing // how a log body holds its records
	if source == alerts.SourceLog {
		f, err := alerts.LogFraming(r.Header.Get("Content-Type"))
		if err != nil {
			s.reject(w, r, source, "content_type", http.StatusUnsupportedMediaType, err)
			return
		}
		framing = f
	}
	limit, limitName := s.bodyLimit(source)
	body, err := readBody(w, r, limit)
	if err != nil {
		status := bodyErrorStatus(w, err)
		reason := "read_error"
		switch status {
		case http.StatusRequestEntityTooLarge:
			reason, err = "too_large", fmt.Errorf("%w, %s", err, limitName)
		case http.StatusUnsupportedMediaType:
			reason = "content_encoding"
		}
		s.reject(w, r, source, reason, status, err)
		return
	}
	if len(body) > largeBody {
		// Large bodies take their turn, one per spare core: parsing costs
		// CPU in proportion to size, and several at once would starve the
		// single alerts that must page in seconds. Small requests never wait.
		select {
		case s.large <- struct{}{}:
			defer func() { <-s.large }()
		case <-r.Context().Done():
			return // the sender gave up; nothing was read into the store
		}
	}
	lim := alerts.BatchLimits{MaxAlerts: maxAlertsPerRequest, KeepOrder: listedAlerts, Grouping: s.opts.Grouping}
	var batch *alerts.Batch
	if source == alerts.SourceLog {
		batch, err = alerts.ParseLogBatch(body, framing, lim)
	} else {
		batch, err = alerts.ParseBatch(source, body, lim)
	}
	var tooMany *alerts.TooManyAlertsError
	var test *alerts.TestNotification
	switch {
	case errors.As(err, &test):
		s.tested(w, r, test) // a contact point's Test button: no alert (tests.go)
		return
	case errors.As(err, new(*alerts.NotTextError)):
		s.reject(w, r, source, "content_type", http.StatusUnsupportedMediaType, err)
		return
	case errors.As(err, &tooMany):
		s.reject(w, r, source, "too_many_alerts", http.StatusRequestEntityTooLarge,
			fmt.Errorf("%w (repeats of one alert count once): split the batch into requests of at most %d", err, tooMany.Limit))
		return
	case err != nil:
		s.reject(w, r, source, "invalid", http.StatusBadRequest, err)
		return
	}
	results, err := s.ingest(r.Context(), batch)
	if err != nil {
		s.metrics.rejected.WithLabelValues(source, "store_error").Inc()
		msg := "could not store the alerts; send them again"
		if len(results) > 0 {
			msg = fmt.Sprintf("stored %d of %d distinct alerts before failing; send the whole batch again: "+
				"the alerts already stored join their incidents by fingerprint, nothing opens twice", len(results), len(batch.Alerts))
		}
		level, logMsg := slog.LevelError, "storing alerts failed"
		if r.Context().Err() != nil {
			level, logMsg = slog.LevelWarn, "sender went away while its alerts were stored"
		}
		s.opts.Logger.Log(context.WithoutCancel(r.Context()), level, logMsg, "operation", "receiving alerts", "source", source, "alerts", batch.Sent,
			"distinct", len(batch.Alerts), "stored", len(results), "error", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, msg)
		return
	}
	ans := summarize(batch, results)
	s.metrics.received[source].Add(float64(batch.Sent))
	s.metrics.opened[source].Add(float64(ans.opened))
	w.Header().Set("Content-Type", "application/json")
	w.Write(ans.appendJSON(make([]byte, 0, 96+8*len(ans.ids)+32*len(batch.Of))))
}

// bodyLimit is a source's body limit (decoded) and how to name it in a 413.
func (s *Server) bodyLimit(source string) (int64, string) {
	if source == alerts.SourceLog {
		return s.opts.MaxBodyBytes, "max_body_bytes: send fewer lines per request (the log shipper's batch size) or raise max_body_bytes"
	}
	return max(s.opts.MaxBodyBytes, jsonBodyFloor), fmt.Sprintf(
		"the limit of JSON alert sources (max_body_bytes, at least %d MiB): split the batch (Alertmanager: group_by more labels) or raise max_body_bytes",
		jsonBodyFloor>>20)
}

// isJSON reports whether a Content-Type is JSON (application/json or a
// +json type). A missing one is let through: scripts and tests often send
// none, and a browser sending none from a page carries an Origin, which
// the API's origin check refuses.
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// Heartbeats is the dead-man's switch as intake sees it.
type Heartbeats interface {
	// Heard takes an alert and reports whether it is the heartbeat, which
	// then opens no incident. An error says a heartbeat was not recorded:
	// the batch is refused, so that the sender tries it again.
	Heard(ctx context.Context, a incidents.Alert) (bool, error)
}

// ingest files a batch's alerts, but for heartbeats: those are taken by
// the dead-man's switch and answered {"id": 0, "opened": false}. The
// results are per alert of batch.Alerts; on failure, those committed.
func (s *Server) ingest(ctx context.Context, batch *alerts.Batch) ([]incidents.Ingested, error) {
	if s.opts.Heartbeats == nil {
		return s.opts.Incidents.IngestRepeats(ctx, batch.Alerts, batch.Repeats)
	}
	// Every alert is shown to the switch (it records the heartbeat's
	// time); the batch is copied only when one of them was the heartbeat,
	// which keeps ordinary batches on the intake's fast path.
	heard := make([]bool, len(batch.Alerts))
	found := false
	for i, a := range batch.Alerts {
		var err error
		if heard[i], err = s.opts.Heartbeats.Heard(ctx, a); err != nil {
			return nil, err // nothing stored yet: the whole batch again is right
		}
		found = found || heard[i]
	}
	if !found {
		return s.opts.Incidents.IngestRepeats(ctx, batch.Alerts, batch.Repeats)
	}
	var keep []incidents.Alert
	var repeats, at []int // at: index in batch.Alerts of each alert kept
	for i, a := range batch.Alerts {
		if !heard[i] {
			keep, repeats, at = append(keep, a), append(repeats, batch.Repeats[i]), append(at, i)
		}
	}
	results := make([]incidents.Ingested, len(batch.Alerts))
	if len(keep) == 0 {
		return results, nil
	}
	filed, err := s.opts.Incidents.IngestRepeats(ctx, keep, repeats)
	for j, res := range filed {
		results[at[j]] = res
	}
	if err != nil {
		stored := len(batch.Alerts)
		if len(filed) < len(keep) {
			stored = at[len(filed)] // the alerts before the first one not stored
		}
		return results[:stored], err
	}
	return results, nil
}

// intakeAnswer sums up a filed batch.
type intakeAnswer struct {
	accepted, distinct, opened int
	skipped                    int     // log records left out for their level
	ids                        []int64 // distinct incidents, ascending
	listed                     []incidents.Ingested
}

// summarize builds the answer from a batch and its results (one per
// distinct alert). An incident is opened or updated, never both: one
// opened by the batch and joined by a later alert of it was opened.
func summarize(batch *alerts.Batch, results []incidents.Ingested) intakeAnswer {
	ans := intakeAnswer{accepted: batch.Sent, distinct: len(batch.Alerts), skipped: batch.Skipped}
	for _, res := range results {
		if res.IncidentID != 0 {
			ans.ids = append(ans.ids, res.IncidentID)
		}
		if res.Opened {
			ans.opened++
		}
	}
	slices.Sort(ans.ids)
	ans.ids = slices.Compact(ans.ids)
	if batch.Of != nil {
		// Per alert sent: only the first copy of an alert that opened an
		// incident opened it.
		told := make([]bool, len(results))
		ans.listed = make([]incidents.Ingested, len(batch.Of))
		for k, i := range batch.Of {
			ans.listed[k] = incidents.Ingested{IncidentID: results[i].IncidentID, Opened: results[i].Opened && !told[i]}
			told[i] = true
		}
	}
	return ans
}

// appendJSON writes
//
//	{"accepted":N,"distinct":D,"opened":O,"updated":U,"incident_ids":[...],"skipped":S,"incidents":[{"id":1,"opened":true},...]}
//
// by hand, "skipped" only when log records were left out, "incidents"
// only for a listed batch: it answers every request.
func (a intakeAnswer) appendJSON(b []byte) []byte {
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(a.accepted), 10)
	b = append(b, `,"distinct":`...)
	b = strconv.AppendInt(b, int64(a.distinct), 10)
	b = append(b, `,"opened":`...)
	b = strconv.AppendInt(b, int64(a.opened), 10)
	b = append(b, `,"updated":`...)
	b = strconv.AppendInt(b, int64(len(a.ids)-a.opened), 10)
	b = append(b, `,"incident_ids":[`...)
	for i, id := range a.ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, ']')
	if a.skipped > 0 {
		b = append(b, `,"skipped":`...)
		b = strconv.AppendInt(b, int64(a.skipped), 10)
	}
	if a.listed != nil {
		b = append(b, `,"incidents":[`...)
		for i, res := range a.listed {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = strconv.AppendInt(b, res.IncidentID, 10)
			b = append(b, `,"opened":`...)
			b = strconv.AppendBool(b, res.Opened)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// reject refuses a payload and logs why: a misconfigured source is
// otherwise invisible until someone wonders why nothing pages.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source, reason string, status int, err error) {
	s.metrics.rejected.WithLabelValues(source, reason).Inc()
	s.opts.Logger.Warn("rejected alerts", "operation", "receiving alerts", "source", source,
		"remote", r.RemoteAddr, "status", status, "error", err)
	writeError(w, status, err.Error())
}
