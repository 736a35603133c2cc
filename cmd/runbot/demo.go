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

// writeDemoRunbooks puts the demo's runbooks in a directory of their own.
func writeDemoRunbooks() (string, error) {
	dir, err := os.MkdirTemp("", "runbot-demo")
	if err != nil {
		return "", fmt.Errorf("writing demo runbooks: %w", err)
	}
	entries, err := demoRunbooks.ReadDir("demo")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		b, err := demoRunbooks.ReadFile("demo/" + e.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return "", fmt.Errorf("writing demo runbooks: %w", err)
		}
	}
	return dir, nil
}

// Ingester files alerts.
type Ingester interface {
	Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error)
}

// feedDemo plays the stories of a RUN week, a few seconds apart and then
// over again: failing user syncs (the same 403 for ever other user id),
// empty documents, a pod down behind a load balancer (one of two pods:
// the replicas clue), and a P1 at night.
func feedDemo(ctx context.Context, in Ingester, every time.Duration, logger *slog.Logger) error {
	logger.Info("feeding demo alerts", "operation", "feeding demo alerts")
	steps := []func() []incidents.Alert{
		func() []incidents.Alert {
			return parse(alerts.ParseLog(fmt.Appendf(nil, "%s ERROR [user-sync-service] creating user: POST /api/users: 403 (user %d)",
				time.Now().UTC().Format(time.RFC3339), 10000+rand.IntN(90000))))
		},
		func() []incidents.Alert {
			return []incidents.Alert{{Source: alerts.SourceGrafana, Fingerprint: "demo-documents-empty", Service: "document-service",
				Operation: "rendering document", Title: fmt.Sprintf("rendering document: empty body for document %d", 80000+rand.IntN(9999)),
				Severity: "warning", Status: incidents.AlertFiring, Labels: map[string]string{"pod": "document-service-6f7c9d-2hxlq", "grafana_folder": "documents"}}}
		},
		func() []incidents.Alert {
			return []incidents.Alert{{Source: alerts.SourceAlertmanager, Fingerprint: "demo-pod-down", Service: "payment-gateway",
				Operation: "health check", Title: "[payment-gateway] health check: GET /healthz: connection refused", Severity: "critical",
				Status: incidents.AlertFiring, Labels: map[string]string{"alertname": "BackendDown", "pod": "payment-gateway-54fb9-n4vkg", "lb": "edge-1"}}}
		},
		func() []incidents.Alert {
			return parse(alerts.ParseLog(fmt.Appendf(nil, `{"level":"error","msg":"[user-sync-service] creating user: POST /api/users: 403 (user %d)","pod_id":"user-sync-7d9f8b6c5-q8z1m"}`,
				10000+rand.IntN(90000))))
		},
		func() []incidents.Alert {
			return []incidents.Alert{{Source: alerts.SourceGeneric, Fingerprint: "demo-checkout-down", Service: "checkout",
				Operation: "placing order", Title: "[checkout] placing order: 502 from payment-gateway (03:12, nobody awake)", Priority: incidents.P1,
				Status: incidents.AlertFiring, Labels: map[string]string{"region": "eu-west-1", "time_of_day": "night"}}}
		},
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; ; i++ {
		if as := steps[i%len(steps)](); len(as) > 0 {
			if _, err := in.Ingest(ctx, as); err != nil && ctx.Err() == nil {
				logger.Warn("demo alert not stored", "operation", "feeding demo alerts", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func parse(as []incidents.Alert, err error) []incidents.Alert {
	if err != nil {
		return nil
	}
	return as
}
