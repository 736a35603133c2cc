package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// TestAlertmanagerEndToEnd runs a real Prometheus Alertmanager that sends
// its webhook to runbot: one rule firing on two pods is one incident whose
// label breakdown names both, a group re-sent with a new member
// deduplicates, and the resolution of both pods shows in the timeline.
func TestAlertmanagerEndToEnd(t *testing.T) {
	amBin := requireBinary(t, "prometheus-alertmanager", "alertmanager")
	const token = "e2e-token"
	cfg := config.Default()
	cfg.IntakeToken = token
	b := startBot(t, cfg)

	am := newAlertmanager(t, amBin, b.logs)
	am.start(b.url, token, "1s", "1h")

	postAlert := func(pod string, endsAt time.Time) {
		t.Helper()
		ends := ""
		if !endsAt.IsZero() {
			ends = fmt.Sprintf(`,"endsAt":%q`, endsAt.UTC().Format(time.RFC3339))
		}
		body := fmt.Sprintf(`[{"labels":{"alertname":"UserSyncFailing","service":"user-sync-service","severity":"critical","pod":%q},
			"annotations":{"summary":"[user-sync-service] creating user: POST /api/users: 403"}%s}]`, pod, ends)
		am.post(body)
	}
	type withLabels struct {
		incidentView
		Labels map[string]map[string]int `json:"labels"`
	}
	read := func(id int64) withLabels {
		t.Helper()
		var inc withLabels
		call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, id), token, "", &inc)
		return inc
	}

	postAlert("pod-a", time.Time{})
	eventually(t, 30*time.Second, "first incident", func() (bool, string) {
		list := listIncidents(t, b.url, token, "")
		return len(list) == 1, describe(list)
	})
	// A second pod in the same group: Alertmanager re-sends the group,
	// pod-a included; both join the rule's incident.
	postAlert("pod-b", time.Time{})
	eventually(t, 30*time.Second, "one incident naming both pods", func() (bool, string) {
		list := listIncidents(t, b.url, token, "")
		if len(list) != 1 {
			return false, describe(list)
		}
		inc := read(list[0].ID)
		return inc.Labels["pod"]["pod-a"] >= 1 && inc.Labels["pod"]["pod-b"] >= 1, describe(inc)
	})
	id := listIncidents(t, b.url, token, "")[0].ID

	// Both pods recover: the incident is resolved at source, and the
	// resolutions open nothing.
	postAlert("pod-a", time.Now().Add(-time.Second))
	postAlert("pod-b", time.Now().Add(-time.Second))
	waitResolvedAtSource(t, b.url, token, id, 30*time.Second)
	if got := listIncidents(t, b.url, token, ""); len(got) != 1 {
		t.Fatalf("the resolution opened an incident: %s", describe(got))
	}
}

// waitResolvedAtSource waits for an incident's timeline to say its source
// resolved it, the incident itself staying open: people still decide.
func waitResolvedAtSource(t *testing.T, url, token string, id int64, within time.Duration) {
	t.Helper()
	eventually(t, within, "the incident resolved at source", func() (bool, string) {
		var inc incidentView
		call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", url, id), token, "", &inc)
		for _, e := range inc.Timeline {
			if e.Kind == "source_resolved" {
				return inc.State == "open", describe(inc)
			}
		}
		return false, describe(inc)
	})
}
