package main

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

//go:embed demo/*.md
var demoRunbooks embed.FS

// writeDemoRunbooks puts the demo's runbooks in a directory of their own;
// on error it leaves none behind.
func writeDemoRunbooks() (string, error) {
	dir, err := os.MkdirTemp("", "runbot-demo")
	if err != nil {
		return "", fmt.Errorf("writing demo runbooks: %w", err)
	}
	if err := copyDemoRunbooks(dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("writing demo runbooks: %w", err)
	}
	return dir, nil
}

func copyDemoRunbooks(dir string) error {
	entries, err := demoRunbooks.ReadDir("demo")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := demoRunbooks.ReadFile("demo/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Ingester files alerts.
type Ingester interface {
	Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error)
}

// demoBeat is a moment of the demo's story: at beats after the start,
// what the sources send.
type demoBeat struct {
	at     int
	what   string // for the log, so that whoever watches it can follow
	alerts func() []incidents.Alert
}

// demoStory is a RUN morning in about forty beats (two minutes at the
// default 3 s): failing user syncs (the same 403 for ever other user id),
// empty documents, a pod down behind a load balancer (one of two pods:
// the replicas clue) and, because of it, checkout down: the P1. Repeats
// keep coming until the pod and checkout recover at their source; a slow
// search recovers by itself. The documents and the user syncs go on
// failing: the person has something left to chase. It is told once: a
// demo that never ends buries its own story under repeats.
func demoStory() []demoBeat {
	userSync := func() []incidents.Alert {
		return parse(alerts.ParseLog(fmt.Appendf(nil, "%s ERROR [user-sync-service] creating user: POST /api/users: 403 (user %d)",
			time.Now().UTC().Format(time.RFC3339), 10000+rand.IntN(90000))))
	}
	userSyncJSON := func() []incidents.Alert {
		return parse(alerts.ParseLog(fmt.Appendf(nil, `{"level":"error","msg":"[user-sync-service] creating user: POST /api/users: 403 (user %d)","pod_id":"user-sync-7d9f8b6c5-q8z1m"}`,
			10000+rand.IntN(90000))))
	}
	documents := func() []incidents.Alert {
		return []incidents.Alert{{Source: alerts.SourceGrafana, Fingerprint: "demo-documents-empty", Service: "document-service",
			Operation: "rendering document", Title: fmt.Sprintf("rendering document: empty body for document %d", 80000+rand.IntN(9999)),
			Severity: "warning", Status: incidents.AlertFiring, Labels: map[string]string{"pod": "document-service-6f7c9d-2hxlq", "grafana_folder": "documents"}}}
	}
	podDown := func(status incidents.AlertStatus) func() []incidents.Alert {
		return func() []incidents.Alert {
			return []incidents.Alert{{Source: alerts.SourceAlertmanager, Fingerprint: "demo-pod-down", Service: "payment-gateway",
				Operation: "health check", Title: "[payment-gateway] health check: GET /healthz: connection refused", Severity: "critical",
				Status: status, Labels: map[string]string{"alertname": "BackendDown", "pod": "payment-gateway-54fb9-n4vkg", "lb": "edge-1"}}}
		}
	}
	checkout := func(status incidents.AlertStatus) func() []incidents.Alert {
		return func() []incidents.Alert {
			return []incidents.Alert{{Source: alerts.SourceGeneric, Fingerprint: "demo-checkout-down", Service: "checkout",
				Operation: "placing order", Title: "[checkout] placing order: 502 from payment-gateway", Priority: incidents.P1,
				Status: status, Labels: map[string]string{"region": "eu-west-1"}}}
		}
	}
	search := func(status incidents.AlertStatus) func() []incidents.Alert {
		return func() []incidents.Alert {
			return []incidents.Alert{{Source: alerts.SourceAlertmanager, Fingerprint: "demo-search-latency", Service: "search-api",
				Operation: "searching", Title: "[search-api] searching: p99 latency 2.4s over 1s", Severity: "warning",
				Status: status, Labels: map[string]string{"alertname": "HighLatency", "pod": "search-api-6c4d8-tx2pw"}}}
		}
	}
	return []demoBeat{
		{0, "user-sync-service fails to create users (403)", userSync},
		{2, "document-service renders empty documents", documents},
		{4, "user-sync-service again, another user", userSync},
		{6, "a payment-gateway pod is down behind the load balancer", podDown(incidents.AlertFiring)},
		{7, "checkout is down: the P1", checkout(incidents.AlertFiring)},
		{9, "payment-gateway fires again, the same pod", podDown(incidents.AlertFiring)},
		{10, "checkout fires again", checkout(incidents.AlertFiring)},
		{12, "user-sync-service again, from its pod's JSON log", userSyncJSON},
		{13, "payment-gateway fires again", podDown(incidents.AlertFiring)},
		{14, "checkout fires again", checkout(incidents.AlertFiring)},
		{16, "search-api is slow", search(incidents.AlertFiring)},
		{18, "checkout fires again", checkout(incidents.AlertFiring)},
		{19, "payment-gateway fires again", podDown(incidents.AlertFiring)},
		{21, "document-service again", documents},
		{22, "user-sync-service again", userSync},
		{24, "search-api recovers by itself", search(incidents.AlertResolved)},
		{26, "the payment-gateway pod is back", podDown(incidents.AlertResolved)},
		{27, "checkout recovers at its source: a person still has to /mitigate it", checkout(incidents.AlertResolved)},
		{30, "user-sync-service again", userSync},
		{33, "document-service again", documents},
		{36, "user-sync-service again", userSyncJSON},
		{39, "document-service again", documents},
	}
}

// feedDemo tells the demo's story, a beat every interval, and returns
// when it is told (or when ctx ends).
func feedDemo(ctx context.Context, in Ingester, every time.Duration, logger *slog.Logger) error {
	story := demoStory()
	logger.Info("demo: feeding sample alerts", "operation", "feeding demo alerts", "alerts", len(story),
		"lasts", (time.Duration(story[len(story)-1].at) * every).String())
	tick := time.NewTicker(every)
	defer tick.Stop()
	beat := 0
	for _, b := range story {
		for ; beat < b.at; beat++ {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		if _, err := in.Ingest(ctx, b.alerts()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			logger.Warn("demo alert not stored", "operation", "feeding demo alerts", "beat", b.what, "error", err)
			continue
		}
		logger.Info("demo: "+b.what, "operation", "feeding demo alerts")
	}
	logger.Info("the demo story is told: no more alerts; acknowledge, mitigate and resolve its incidents in the console",
		"operation", "feeding demo alerts")
	return nil
}

func parse(as []incidents.Alert, err error) []incidents.Alert {
	if err != nil {
		return nil
	}
	return as
}
