package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// The alert names Grafana gives a rule's alert when the rule could not be
// evaluated, instead of its own (grafana/grafana
// pkg/services/ngalert/state/compat.go). The rule's name moves to the
// rulename label; its labels and annotations are kept, summary and
// severity included, which is why they must not be read as the rule's.
const (
	grafanaNoData = "DatasourceNoData"
	grafanaError  = "DatasourceError"
)

// Default priorities of Grafana's state alerts. An Error means a query
// fails: every rule reading that datasource is blind, the service's own
// alerts included, so someone should look soon (P2). NoData is often a
// series that stopped on purpose (a job finished, a pod renamed): worth a
// look in the day (P3). A rule's severity says how bad its condition is,
// not how bad it is not to know.
const (
	grafanaNoDataPriority = incidents.P3
	grafanaErrorPriority  = incidents.P2
)

// The labels of the alert a contact point's Test button sends, when nobody
// customised them (grafana/alerting notify/receivers.go, newTestAlert).
const (
	grafanaTestName     = "TestAlert"
	grafanaTestInstance = "Grafana"
)

// TestNotification is a sender's test of its contact point: proof that
// the sender reaches runbot, not an alert. Parsers return it as an error
// so that no caller can file it by mistake; intake answers it with a 200
// and records it where people can see it.
type TestNotification struct {
	Source   string    // the source that sent it: grafana
	Receiver string    // the contact point's name as the sender calls it
	From     string    // the sender's address (Grafana's externalURL); "" when not said
	At       time.Time // when the sender made it; zero when not said
}

func (t *TestNotification) Error() string {
	return fmt.Sprintf("a %s contact point test: nothing to file", t.Source)
}

// ParseGrafana reads a Grafana unified alerting webhook (version "1")
// with the default Grouping.
func ParseGrafana(body []byte) ([]incidents.Alert, error) {
	return ParseGrafanaGrouped(body, DefaultGrouping())
}

// ParseGrafanaGrouped reads a Grafana unified alerting webhook with the
// given Grouping.
func ParseGrafanaGrouped(body []byte, g Grouping) ([]incidents.Alert, error) {
	return collect(func(fn func(incidents.Alert) error) error { return eachGrafanaAlert(body, g, fn) })
}

// eachGrafanaAlert reads a Grafana webhook and hands each alert to fn in
// order. It is the one way in for Grafana payloads, so that Parse and
// ParseBatch read them alike. Alerts are identified as Alertmanager's are
// (a multi-dimensional rule firing on several pods is one incident), and
// an entry resolved while another of its incident still fires is left
// out. A payload holding only the Test button's alert is a
// *TestNotification; the legacy webhook is refused with what to set up
// instead.
func eachGrafanaAlert(body []byte, g Grouping, fn func(incidents.Alert) error) error {
	w, decoded, err := readWebhookEntries(body, SourceGrafana, "1")
	if errors.Is(err, ErrNoAlerts) {
		if legacy := grafanaLegacy(body); legacy != nil {
			return legacy
		}
	}
	if err != nil {
		return err
	}
	type entry struct {
		a incidents.Alert
		e *webhookAlert
	}
	entries := make([]entry, 0, len(w.Alerts))
	tests := 0
	for i, raw := range w.Alerts {
		a, e, err := decodeEntry(raw, entryAt(decoded, i), SourceGrafana)
		if err != nil {
			return entryError(i, err)
		}
		if isGrafanaTest(a) {
			tests++
		}
		entries = append(entries, entry{a, e})
	}
	if tests == len(entries) {
		// Grafana sends its test alone; beside real alerts, a "test" is
		// someone's alert and is filed like the others.
		return grafanaTest(body, entries[0].a)
	}
	all := make([]incidents.Alert, 0, len(entries))
	firing := map[string]bool{}
	for _, en := range entries {
		a, e := en.a, en.e
		if a.Service == "unknown" || a.Service == "" {
			a.Service = g.Service(a.Labels)
		}
		if name := a.Labels["alertname"]; name == grafanaNoData || name == grafanaError {
			grafanaState(&a, name, e.Annotations)
			a.Fingerprint = grafanaStateGrouping(g, name).Identify(SourceGrafana, a.Labels, a.Service, a.Operation,
				strings.TrimSpace(e.Fingerprint), w.GroupKey)
		} else {
			a.Title = NormalizeTitle(a.Title)
			a.Fingerprint = g.Identify(SourceGrafana, a.Labels, a.Service, a.Operation, strings.TrimSpace(e.Fingerprint), w.GroupKey)
		}
		if a.Status == incidents.AlertFiring {
			firing[a.Fingerprint] = true
		}
		all = append(all, a)
	}
	return handOut(all, firing, w.TruncatedAlerts, fn)
}

// grafanaStateGrouping is the Grouping for a NoData or Error alert. By
// default alerts are one incident per alertname and service, which would
// make every rule's NoData of a service one incident; each rule is blind
// on its own, so the rule (name and folder), its datasource and query and
// the scope make the identity instead. The configured rules still come
// first, and an identity by fingerprint or group is kept as configured.
func grafanaStateGrouping(g Grouping, name string) Grouping {
	if g.Identity != "" && g.Identity != IdentityLabels {
		return g
	}
	by := []string{"rulename", "grafana_folder", "datasource_uid", "ref_id"}
	by = append(by, scopeLabels...)
	rules := append(slices.Clone(g.Rules), GroupingRule{Source: SourceGrafana, Match: map[string]string{"alertname": name}, By: by})
	return Grouping{Identity: g.Identity, ServiceLabels: g.ServiceLabels, Rules: rules}
}

// isGrafanaTest tells the Test button's alert from a rule's: every alert
// of a Grafana-managed rule carries its folder, the test alert none.
// Custom labels may be merged over the test's, so the instance label is
// not required when the summary is still Grafana's.
func isGrafanaTest(a incidents.Alert) bool {
	if a.Labels["alertname"] != grafanaTestName || a.Labels["grafana_folder"] != "" || a.Labels["rulename"] != "" {
		return false
	}
	return a.Labels["instance"] == grafanaTestInstance || a.Title == "Notification test"
}

// grafanaTest is the test notification that a carried, with the sender
// named from the envelope.
func grafanaTest(body []byte, a incidents.Alert) *TestNotification {
	var env struct {
		Receiver    string `json:"receiver"`
		ExternalURL string `json:"externalURL"`
	}
	// The envelope was read once already; a field of the wrong type only
	// leaves the sender unnamed.
	_ = json.Unmarshal(body, &env)
	return &TestNotification{Source: SourceGrafana, Receiver: strings.TrimSpace(env.Receiver),
		From: strings.TrimSpace(env.ExternalURL), At: a.StartsAt}
}

// grafanaState retitles and reprioritises the alert Grafana sends when a
// rule could not be evaluated: it is its own incident, about the
// datasource, not the rule's condition. The rule's summary, description
// and severity, which Grafana copies over, are not its.
func grafanaState(a *incidents.Alert, name string, annotations map[string]string) {
	rule, ds := strings.TrimSpace(a.Labels["rulename"]), strings.TrimSpace(a.Labels["datasource_uid"])
	a.Severity, a.Description = "", ""
	a.Operation = strings.TrimSpace(a.Labels["operation"]) // not the rule summary's
	if name == grafanaNoData {
		a.Priority = grafanaNoDataPriority
		a.Title = "no data"
		if ds != "" {
			a.Title += " from datasource " + ds
		}
		if rule != "" {
			a.Title += " for rule " + rule
		}
		return
	}
	a.Priority = grafanaErrorPriority
	if text := strings.Join(strings.Fields(annotations["Error"]), " "); text != "" {
		a.Title = "datasource error: " + text
		return
	}
	a.Title = "datasource error"
	if ds != "" {
		a.Title += " on datasource " + ds
	}
	if rule != "" {
		a.Title += " for rule " + rule
	}
}

// grafanaLegacy recognises the webhook of Grafana's legacy alerting (before
// unified alerting: one rule per request, no alerts array) and says what
// to set up instead; nil when body is not one.
func grafanaLegacy(body []byte) error {
	var old struct {
		RuleName    string          `json:"ruleName"`
		State       string          `json:"state"`
		EvalMatches json.RawMessage `json:"evalMatches"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &old) != nil || (old.RuleName == "" && old.EvalMatches == nil) {
		return nil
	}
	return fmt.Errorf("legacy Grafana alerting webhook (rule %q, state %q): runbot reads Grafana unified alerting only; "+
		"add a contact point of type Webhook with URL http(s)://<runbot>/api/v1/alerts/grafana and route the rule's notifications to it",
		old.RuleName, old.State)
}
