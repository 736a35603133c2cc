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

// ParseGrafana reads a Grafana unified alerting webhook (version "1").
func ParseGrafana(body []byte) ([]incidents.Alert, error) {
	var out []incidents.Alert
	err := eachGrafanaAlert(body, func(a incidents.Alert) error {
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachGrafanaAlert reads a Grafana webhook and hands each alert to fn in
// order. It is the one way in for Grafana payloads, so that Parse and
// ParseBatch read them alike. A payload holding only the Test button's
// alert is a *TestNotification; the legacy webhook is refused with what
// to set up instead.
func eachGrafanaAlert(body []byte, fn func(incidents.Alert) error) error {
	var test *incidents.Alert
	filed := 0
	err := eachWebhookAlert(body, SourceGrafana, "1", func(a incidents.Alert) error {
		if isGrafanaTest(a) {
			// Grafana sends a test alone; kept aside, it files nothing
			// even beside real alerts.
			test = &a
			return nil
		}
		if err := grafanaState(&a); err != nil {
			return err
		}
		filed++
		return fn(a)
	})
	switch {
	case errors.Is(err, ErrNoAlerts):
		if legacy := grafanaLegacy(body); legacy != nil {
			return legacy
		}
		return err
	case err != nil:
		return err
	case test != nil && filed == 0:
		return grafanaTest(body, *test)
	}
	return nil
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
// rule could not be evaluated: it is its own incident (its fingerprint
// differs from the rule's), about the datasource, not the rule's condition.
func grafanaState(a *incidents.Alert) error {
	name := a.Labels["alertname"]
	if name != grafanaNoData && name != grafanaError {
		return nil
	}
	rule, ds := strings.TrimSpace(a.Labels["rulename"]), strings.TrimSpace(a.Labels["datasource_uid"])
	a.Severity = ""
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
		return nil
	}
	a.Priority = grafanaErrorPriority
	var e struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(a.Payload), &e); err != nil {
		return fmt.Errorf("reading the annotations of %s: %w", name, jsonError(err))
	}
	if text := strings.Join(strings.Fields(e.Annotations["Error"]), " "); text != "" {
		a.Title = "datasource error: " + text
		return nil
	}
	a.Title = "datasource error"
	if ds != "" {
		a.Title += " on datasource " + ds
	}
	if rule != "" {
		a.Title += " for rule " + rule
	}
	return nil
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
