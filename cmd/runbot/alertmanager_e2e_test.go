package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// TestAlertmanagerEndToEnd runs a real Prometheus Alertmanager that sends
// its webhook to runbot: alerts open one incident per fingerprint, a group
// re-sent with a new member deduplicates, and a resolution shows in the
// timeline.
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

	postAlert("pod-a", time.Time{})
	eventually(t, 30*time.Second, "first incident", func() (bool, string) {
		list := listIncidents(t, b.url, token, "")
		return len(list) == 1, describe(list)
	})
	// A second alert in the same group: Alertmanager re-sends the group,
	// pod-a included, which must join its incident rather than open one.
	postAlert("pod-b", time.Time{})
	eventually(t, 30*time.Second, "second incident, first one deduplicated", func() (bool, string) {
		list := listIncidents(t, b.url, token, "")
		if len(list) != 2 {
			return false, describe(list)
		}
		return list[1].AlertCount >= 2 && list[0].AlertCount == 1, describe(list)
	})

	// runbot's identity is Alertmanager's own fingerprint.
	var amAlerts []struct {
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
	}
	if code := call(t, "GET", am.url()+"/api/v2/alerts", "", "", &amAlerts); code != 200 {
		t.Fatalf("reading alertmanager alerts: %d", code)
	}
	want := map[string]bool{}
	for _, a := range amAlerts {
		want[a.Fingerprint] = true
	}
	list := listIncidents(t, b.url, token, "")
	for _, inc := range list {
		if !want[inc.Fingerprint] {
			t.Errorf("incident %d has fingerprint %s, not one of Alertmanager's %v", inc.ID, inc.Fingerprint, want)
		}
	}
	podA := list[1]

	postAlert("pod-a", time.Now().Add(-time.Second))
	waitResolvedAtSource(t, b.url, token, podA.ID, 30*time.Second)
	if got := listIncidents(t, b.url, token, ""); len(got) != 2 {
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
