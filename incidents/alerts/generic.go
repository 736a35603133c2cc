package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// genericAlert is the shape a team writes by hand or from a script.
type genericAlert struct {
	Service     string            `json:"service"`
	Summary     string            `json:"summary"`
	Severity    string            `json:"severity"`
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Status      string            `json:"status"`
	Operation   string            `json:"operation"`
	Priority    string            `json:"priority"`
	StartsAt    *time.Time        `json:"starts_at"`
}

// ParseGeneric reads one alert object or an array of them. Unknown fields
// are refused: a hand-written "sevrity" silently ignored would page at the
// wrong priority, which is worse than a 400 naming it.
func ParseGeneric(body []byte) ([]incidents.Alert, error) {
	var out []incidents.Alert
	err := eachGeneric(body, func(a incidents.Alert) error {
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachGeneric reads one generic alert or an array of them and hands each
// to fn in order, stopping at the first error (an invalid entry, or fn's
// own).
func eachGeneric(body []byte, fn func(incidents.Alert) error) error {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return errors.New("empty body: expected a JSON object or array of alerts")
	case body[0] == '{':
		a, err := genericEntry(body)
		if err != nil {
			return err
		}
		return fn(a)
	case body[0] != '[':
		return errors.New("expected a JSON object or array of alerts")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return jsonError(err)
	}
	if len(raws) == 0 {
		return ErrNoAlerts
	}
	for i, raw := range raws {
		a, err := genericEntry(raw)
		if err != nil {
			return entryError(i, err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func genericEntry(raw json.RawMessage) (incidents.Alert, error) {
	var g genericAlert
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		if isShipperRecord(raw) {
			// Fluent Bit drops a chunk answered 400: say where it belongs.
			return incidents.Alert{}, errors.New("a log record (message or log, with a time), not an alert: " +
				"log shippers (Fluent Bit, Vector, Logstash) send to /api/v1/alerts/log")
		}
		return incidents.Alert{}, jsonError(err)
	}
	if dec.More() {
		return incidents.Alert{}, errors.New("trailing data after the alert object")
	}
	g.Service, g.Summary = strings.TrimSpace(g.Service), strings.TrimSpace(g.Summary)
	if g.Summary == "" {
		return incidents.Alert{}, errors.New("summary is required")
	}
	status, err := parseStatus(g.Status)
	if err != nil {
		return incidents.Alert{}, err
	}
	a := incidents.Alert{
		Source:      SourceGeneric,
		Fingerprint: strings.TrimSpace(g.Fingerprint),
		Service:     g.Service,
		Operation:   strings.TrimSpace(g.Operation),
		Title:       g.Summary,
		Severity:    g.Severity,
		Status:      status,
		Labels:      g.Labels,
		Payload:     string(raw),
	}
	if g.Priority != "" {
		if a.Priority, err = incidents.ParsePriority(g.Priority); err != nil {
			return incidents.Alert{}, fmt.Errorf("priority %q is not one of P1..P5", g.Priority)
		}
	}
	if g.StartsAt != nil {
		a.StartsAt = *g.StartsAt
	}
	errText := g.Summary
	if st, ok := ParseStory(g.Summary); ok {
		if a.Service == "" {
			a.Service = st.Service
		}
		if a.Operation == "" {
			a.Operation = st.Operation
		}
		errText = st.Error
		if a.Severity == "" {
			a.Severity = st.Level
		}
	}
	if a.Service == "" {
		return incidents.Alert{}, errors.New(`service is required (or a summary shaped "[service] operation: error")`)
	}
	if a.Fingerprint == "" {
		a.Fingerprint = Fingerprint(a.Service, a.Operation, errText)
	}
	return a, nil
}
