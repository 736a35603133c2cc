package alerts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// webhook is the envelope shared by Prometheus Alertmanager (version "4")
// and Grafana unified alerting (version "1"). Fields runbot does not use are
// left out: vendors add fields, and ignoring them keeps intake working.
type webhook struct {
	Version string            `json:"version"`
	Alerts  []json.RawMessage `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ParseAlertmanager reads a Prometheus Alertmanager webhook (version 4): one
// alert per entry, identified by Alertmanager's own fingerprint.
func ParseAlertmanager(body []byte) ([]incidents.Alert, error) {
	return parseWebhook(body, SourceAlertmanager, "4")
}

func parseWebhook(body []byte, source, version string) ([]incidents.Alert, error) {
	var out []incidents.Alert
	err := eachWebhookAlert(body, source, version, func(a incidents.Alert) error {
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachWebhookAlert reads a webhook payload and hands each alert to fn in
// order, stopping at the first error (an invalid entry, or fn's own).
func eachWebhookAlert(body []byte, source, version string, fn func(incidents.Alert) error) error {
	var w webhook
	if err := json.Unmarshal(bytes.TrimSpace(body), &w); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return errors.New("empty body: expected a JSON webhook payload")
		}
		return jsonError(err)
	}
	if w.Version != "" && w.Version != version {
		return fmt.Errorf("unsupported %s webhook version %q (runbot reads version %s)", source, w.Version, version)
	}
	if len(w.Alerts) == 0 {
		return ErrNoAlerts
	}
	for i, raw := range w.Alerts {
		a, err := webhookEntry(raw, source)
		if err != nil {
			return entryError(i, err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func webhookEntry(raw json.RawMessage, source string) (incidents.Alert, error) {
	var e webhookAlert
	if err := json.Unmarshal(raw, &e); err != nil {
		return incidents.Alert{}, jsonError(err)
	}
	status, err := parseStatus(e.Status)
	if err != nil {
		return incidents.Alert{}, err
	}
	if len(e.Labels) == 0 {
		return incidents.Alert{}, errors.New("labels are missing: an alert needs at least alertname")
	}
	labels := make(map[string]string, len(e.Labels))
	for k, v := range e.Labels {
		if !strings.HasPrefix(k, "__") { // Grafana's internal labels
			labels[k] = v
		}
	}
	a := incidents.Alert{
		Source:      source,
		Fingerprint: strings.TrimSpace(e.Fingerprint),
		Service:     serviceOf(labels),
		Operation:   strings.TrimSpace(labels["operation"]),
		Severity:    labels["severity"],
		Status:      status,
		Labels:      labels,
		StartsAt:    e.StartsAt,
		Payload:     string(raw),
	}
	if p, err := incidents.ParsePriority(labels["priority"]); err == nil {
		a.Priority = p
	}
	summary := firstNonEmpty(e.Annotations["summary"], e.Annotations["title"], e.Annotations["description"], labels["alertname"])
	a.Title = summary
	if st, ok := ParseStory(summary); ok {
		if a.Operation == "" {
			a.Operation = st.Operation
		}
		if a.Service == "unknown" {
			a.Service = st.Service
		}
	}
	if a.Title == "" {
		a.Title = a.Service + " alert"
	}
	if a.Fingerprint == "" {
		a.Fingerprint = labelsFingerprint(e.Labels)
	}
	return a, nil
}

// labelsFingerprint is Alertmanager's notion of identity (the label set),
// for payloads that were written by hand without a fingerprint.
func labelsFingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
