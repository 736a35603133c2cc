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
	// GroupKey and TruncatedAlerts are Alertmanager's: the notification
	// group, and how many of its alerts max_alerts left out.
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts int    `json:"truncatedAlerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ParseAlertmanager reads a Prometheus Alertmanager webhook (version 4)
// with the default Grouping: one alert per entry, and one incident per
// rule, service and scope (see Grouping).
func ParseAlertmanager(body []byte) ([]incidents.Alert, error) {
	return ParseAlertmanagerGrouped(body, DefaultGrouping())
}

// ParseAlertmanagerGrouped reads a Prometheus Alertmanager webhook with
// the given Grouping.
func ParseAlertmanagerGrouped(body []byte, g Grouping) ([]incidents.Alert, error) {
	return collect(func(fn func(incidents.Alert) error) error { return eachAlertmanagerAlert(body, g, fn) })
}

// collect gathers what a parser hands out one alert at a time: the
// batch reader takes them as they come, Parse wants them all.
func collect(each func(fn func(incidents.Alert) error) error) ([]incidents.Alert, error) {
	var out []incidents.Alert
	if err := each(func(a incidents.Alert) error { out = append(out, a); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// eachAlertmanagerAlert reads an Alertmanager webhook and hands each alert
// to fn in order. Alertmanager sends a group's firing and resolved alerts
// together: an entry resolved while another of its incident still fires
// is left out, since that incident is not resolved at source. The first
// alert of each incident carries the group's truncatedAlerts.
func eachAlertmanagerAlert(body []byte, g Grouping, fn func(incidents.Alert) error) error {
	w, decoded, err := readWebhookEntries(body, SourceAlertmanager, "4")
	if err != nil {
		return err
	}
	all := make([]incidents.Alert, 0, len(w.Alerts))
	firing := map[string]bool{}
	for i, raw := range w.Alerts {
		a, e, err := decodeEntry(raw, entryAt(decoded, i), SourceAlertmanager)
		if err != nil {
			return entryError(i, err)
		}
		if a.Service == "unknown" || a.Service == "" {
			a.Service = g.Service(a.Labels)
		}
		a.Title = NormalizeTitle(a.Title)
		a.Fingerprint = g.Identify(SourceAlertmanager, a.Labels, a.Service, a.Operation, strings.TrimSpace(e.Fingerprint), w.GroupKey)
		if a.Status == incidents.AlertFiring {
			firing[a.Fingerprint] = true
		}
		all = append(all, a)
	}
	return handOut(all, firing, w.TruncatedAlerts, fn)
}

// handOut gives fn a notification's alerts in order, leaving out an entry
// resolved while another of its incident still fires (that incident is
// not resolved at source); the first alert of each incident carries the
// group's truncated count.
func handOut(all []incidents.Alert, firing map[string]bool, truncated int, fn func(incidents.Alert) error) error {
	told := map[string]bool{}
	for _, a := range all {
		if a.Status == incidents.AlertResolved && firing[a.Fingerprint] {
			continue
		}
		if !told[a.Fingerprint] {
			told[a.Fingerprint] = true
			a.Truncated = truncated
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// readWebhook reads a webhook's envelope, checking its version and that
// it holds alerts.
func readWebhook(body []byte, source, version string) (*webhook, error) {
	var w webhook
	if err := json.Unmarshal(bytes.TrimSpace(body), &w); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, errors.New("empty body: expected a JSON webhook payload")
		}
		return nil, jsonError(err)
	}
	if w.Version != "" && w.Version != version {
		return nil, unsupportedVersion(source, w.Version, version)
	}
	if len(w.Alerts) == 0 {
		return nil, ErrNoAlerts
	}
	return &w, nil
}

func unsupportedVersion(source, got, want string) error {
	return fmt.Errorf("unsupported %s webhook version %q (runbot reads version %s)", source, got, want)
}

// decodeEntry reads what every labelled source's entry says: labels,
// status, title (summary) and description, operation, the service the
// title's story names ("unknown" when it names none), the start time.
// Identity is left to the caller. An entry readWebhookEntries decoded
// already comes as decoded (nil: raw is decoded here).
func decodeEntry(raw json.RawMessage, decoded *webhookAlert, source string) (incidents.Alert, *webhookAlert, error) {
	e := decoded
	if e == nil {
		e = new(webhookAlert)
		if err := json.Unmarshal(raw, e); err != nil {
			return incidents.Alert{}, nil, jsonError(err)
		}
	}
	status, err := parseStatus(e.Status)
	if err != nil {
		return incidents.Alert{}, nil, err
	}
	if len(e.Labels) == 0 {
		return incidents.Alert{}, nil, errors.New("labels are missing: an alert needs at least alertname")
	}
	labels := e.Labels // the entry's own map, copied only to leave Grafana's internal labels out
	for k := range e.Labels {
		if strings.HasPrefix(k, "__") {
			labels = make(map[string]string, len(e.Labels))
			for k, v := range e.Labels {
				if !strings.HasPrefix(k, "__") {
					labels[k] = v
				}
			}
			break
		}
	}
	a := incidents.Alert{
		Source:      source,
		Service:     "unknown",
		Operation:   strings.TrimSpace(labels["operation"]),
		Severity:    labels["severity"],
		Status:      status,
		Labels:      labels,
		StartsAt:    e.StartsAt,
		Payload:     string(raw),
		Description: strings.TrimSpace(e.Annotations["description"]),
	}
	if p, err := incidents.ParsePriority(labels["priority"]); err == nil {
		a.Priority = p
	}
	summary := firstNonEmpty(e.Annotations["summary"], e.Annotations["title"], e.Annotations["description"], labels["alertname"])
	a.Title = summary
	if a.Description == a.Title {
		a.Description = "" // the title already says it
	}
	var story Story
	if st, ok := ParseStory(summary); ok {
		story = st
		if a.Operation == "" {
			a.Operation = st.Operation
		}
	}
	// A service label names the service before the title's story does;
	// the story is for sources whose labels do not say.
	if serviceOf(labels) == "unknown" && story.Service != "" {
		a.Service = story.Service
	}
	if a.Title == "" {
		a.Title = firstNonEmpty(labels["alertname"], "alert")
	}
	return a, e, nil
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

// entryAt is the i-th entry readWebhookEntries decoded, nil when it
// decoded none.
func entryAt(decoded []webhookAlert, i int) *webhookAlert {
	if decoded == nil {
		return nil
	}
	return &decoded[i]
}
