package alerts_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// openStore is the real store, so that what is checked is what a RUN
// person would see: incidents, not parsed alerts.
func openStore(t *testing.T) *sqlite.IncidentService {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return sqlite.NewIncidentService(db, incidents.DefaultPolicy())
}

// wantIncident is an incident as a human would have opened it by hand.
type wantIncident struct {
	service, title string
	priority       incidents.Priority
	labels         map[string]string // labels the breakdown must show (a subset)
	sourceResolved bool
}

// TestGrafanaPayloadsFileAsAHumanWould files each Grafana payload of
// testdata (see testdata/README.md for where each comes from) in a real
// store and checks the incidents it leaves.
func TestGrafanaPayloadsFileAsAHumanWould(t *testing.T) {
	cases := []struct {
		file string
		want []wantIncident // newest first, as the store lists them
	}{
		{"grafana-firing.json", []wantIncident{
			{service: "payment-gateway", title: "payment-gateway pod down behind the load balancer", priority: incidents.P2,
				labels: map[string]string{"alertname": "PodDown"}, sourceResolved: true},
			{service: "document-service", title: "[document-service] rendering document: empty body for document 84213", priority: incidents.P3,
				labels: map[string]string{"pod": "document-service-6f7c9d-2hxlq"}},
		}},
		{"grafana-nodata.json", []wantIncident{
			{service: "billing", title: "no data from datasource prom-main for rule QueueDepth", priority: incidents.P3,
				labels: map[string]string{"alertname": "DatasourceNoData", "rulename": "QueueDepth", "datasource_uid": "prom-main"}, sourceResolved: true},
			{service: "payment-gateway", title: "no data from datasource prom-main for rule HighCPU", priority: incidents.P3,
				labels: map[string]string{"alertname": "DatasourceNoData", "rulename": "HighCPU", "ref_id": "A"}},
		}},
		{"grafana-error.json", []wantIncident{
			{service: "payment-gateway", priority: incidents.P2,
				title:  `datasource error: [sse.dataQueryError] failed to execute query [A]: Post "http://prometheus:9090/api/v1/query_range": dial tcp 10.0.3.7:9090: connect: connection refused`,
				labels: map[string]string{"alertname": "DatasourceError", "rulename": "HighCPU", "datasource_uid": "prom-main"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			svc := openStore(t)
			ctx := context.Background()
			as, err := alerts.Parse(alerts.SourceGrafana, readTestdata(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Ingest(ctx, as); err != nil {
				t.Fatal(err)
			}
			got, err := svc.FindIncidents(ctx, incidents.IncidentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d incidents, want %d: %v", len(got), len(c.want), titles(got))
			}
			for i, w := range c.want {
				inc := got[i]
				if inc.Service != w.service || inc.Title != w.title || inc.Priority != w.priority || inc.SourceResolved != w.sourceResolved {
					t.Errorf("incident %d: service %q title %q priority %v source resolved %v;\nwant service %q title %q priority %v source resolved %v",
						i, inc.Service, inc.Title, inc.Priority, inc.SourceResolved, w.service, w.title, w.priority, w.sourceResolved)
				}
				counts := inc.Labels.Counts()
				for k, v := range w.labels {
					if counts[k][v] == 0 {
						t.Errorf("incident %d %q: no label %s=%s in %v", i, inc.Title, k, v, counts)
					}
				}
			}
		})
	}
}

func titles(incs []*incidents.Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.Title)
	}
	return out
}

// TestGrafanaStateAlertsAreNotTheRule: a NoData or Error alert carries the
// rule's summary and severity (Grafana copies them over); neither may
// pass for the rule firing.
func TestGrafanaStateAlertsAreNotTheRule(t *testing.T) {
	for _, file := range []string{"grafana-nodata.json", "grafana-error.json"} {
		as, err := alerts.ParseGrafana(readTestdata(t, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if strings.Contains(a.Title, "CPU usage") || strings.Contains(a.Title, "queue") || a.Severity == "critical" || a.Severity == "warning" {
				t.Errorf("%s: alert reads as the rule: title %q severity %q", file, a.Title, a.Severity)
			}
		}
	}
	// Without the labels a failed query adds, the rule still names it.
	body := `{"version":"1","alerts":[{"status":"firing","labels":{"alertname":"DatasourceError","rulename":"HighCPU","service":"api"},
		"annotations":{"summary":"CPU usage is above 90%"}}]}`
	as, err := alerts.ParseGrafana([]byte(body))
	if err != nil || len(as) != 1 || as[0].Title != "datasource error for rule HighCPU" {
		t.Fatalf("error without its text: %+v, %v", as, err)
	}
	body = `{"version":"1","alerts":[{"status":"firing","labels":{"alertname":"DatasourceNoData","rulename":"HighCPU","service":"api"}}]}`
	as, err = alerts.ParseGrafana([]byte(body))
	if err != nil || len(as) != 1 || as[0].Title != "no data for rule HighCPU" {
		t.Fatalf("no data without a datasource: %+v, %v", as, err)
	}
}

// TestGrafanaTestNotificationIsNoAlert: the contact point's Test button is
// told apart from alerts, with who sent it, and files nothing.
func TestGrafanaTestNotificationIsNoAlert(t *testing.T) {
	body := readTestdata(t, "grafana-test.json")
	for name, parse := range map[string]func() error{
		"Parse": func() error { _, err := alerts.Parse(alerts.SourceGrafana, body); return err },
		"ParseBatch": func() error {
			_, err := alerts.ParseBatch(alerts.SourceGrafana, body, alerts.BatchLimits{})
			return err
		},
	} {
		err := parse()
		var test *alerts.TestNotification
		if !errors.As(err, &test) {
			t.Fatalf("%s: %v, want a test notification", name, err)
		}
		want := alerts.TestNotification{Source: "grafana", Receiver: "runbot", From: "https://grafana.example.com/",
			At: time.Date(2026, 11, 24, 10, 42, 5, 117e6, time.UTC)}
		if !test.At.Equal(want.At) || test.Source != want.Source || test.Receiver != want.Receiver || test.From != want.From {
			t.Errorf("%s: %+v, want %+v", name, *test, want)
		}
	}
	// A rule someone named TestAlert is a rule: Grafana gives every rule's
	// alerts their folder.
	rule := `{"version":"1","alerts":[{"status":"firing","labels":{"alertname":"TestAlert","instance":"Grafana","grafana_folder":"qa"},
		"annotations":{"summary":"Notification test"}}]}`
	if as, err := alerts.ParseGrafana([]byte(rule)); err != nil || len(as) != 1 {
		t.Errorf("a rule named TestAlert: %v, %v", as, err)
	}
}

// TestGrafanaLegacyWebhookSaysWhatToUse: the old alerting's webhook has no
// alerts array; its sender needs to know which contact point to set up.
func TestGrafanaLegacyWebhookSaysWhatToUse(t *testing.T) {
	_, err := alerts.Parse(alerts.SourceGrafana, readTestdata(t, "grafana-legacy.json"))
	if err == nil {
		t.Fatal("legacy webhook accepted")
	}
	for _, want := range []string{"legacy", `"High CPU"`, "unified alerting", "Webhook", "/api/v1/alerts/grafana"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// An empty unified payload is still just empty.
	if _, err := alerts.Parse(alerts.SourceGrafana, []byte(`{"version":"1","alerts":[]}`)); !errors.Is(err, alerts.ErrNoAlerts) {
		t.Errorf("empty payload: %v", err)
	}
}

// TestGrafanaNoDataOfTwoRulesIsTwoIncidents: both carry the alertname
// DatasourceNoData and may share a service; each rule is blind on its
// own, and one rule's repeat joins its incident.
func TestGrafanaNoDataOfTwoRulesIsTwoIncidents(t *testing.T) {
	svc := openStore(t)
	ctx := context.Background()
	entry := func(rule, fp string) string {
		return `{"status":"firing","labels":{"alertname":"DatasourceNoData","rulename":"` + rule +
			`","grafana_folder":"api","service":"api","datasource_uid":"prom-main","ref_id":"A"},"fingerprint":"` + fp + `"}`
	}
	body := `{"version":"1","alerts":[` + entry("HighCPU", "aa01") + `,` + entry("HighLatency", "aa02") + `,` + entry("HighCPU", "aa01") + `]}`
	as, err := alerts.ParseGrafana([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Ingest(ctx, as); err != nil {
		t.Fatal(err)
	}
	got, err := svc.FindIncidents(ctx, incidents.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d incidents %v, want one per rule", len(got), titles(got))
	}
	for _, inc := range got {
		if want := map[string]int{"no data from datasource prom-main for rule HighCPU": 2, "no data from datasource prom-main for rule HighLatency": 1}[inc.Title]; inc.AlertCount != want {
			t.Errorf("%q: %d alerts, want %d", inc.Title, inc.AlertCount, want)
		}
	}
}

// TestGrafanaRuleOnTwoPodsIsOneIncident: a multi-dimensional rule fires
// one alert per series, each with its own Grafana fingerprint; filed by
// the default grouping they are one incident whose breakdown names both
// pods, and a pod recovering while the other still fails does not
// resolve it.
func TestGrafanaRuleOnTwoPodsIsOneIncident(t *testing.T) {
	svc := openStore(t)
	ctx := context.Background()
	entry := func(status, pod, fp string) string {
		return `{"status":"` + status + `","labels":{"alertname":"HighCPU","grafana_folder":"payments","service":"payment-gateway","severity":"critical","pod":"` +
			pod + `"},"annotations":{"summary":"CPU usage is above 90%"},"fingerprint":"` + fp + `"}`
	}
	body := `{"version":"1","alerts":[` + entry("firing", "pg-1", "b001") + `,` + entry("firing", "pg-2", "b002") + `]}`
	then := `{"version":"1","alerts":[` + entry("resolved", "pg-1", "b001") + `,` + entry("firing", "pg-2", "b002") + `]}`
	for _, b := range []string{body, then} {
		as, err := alerts.ParseGrafana([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Ingest(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.FindIncidents(ctx, incidents.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d incidents %v, want one for the rule", len(got), titles(got))
	}
	pods := got[0].Labels.Counts()["pod"]
	if pods["pg-1"] == 0 || pods["pg-2"] == 0 || got[0].SourceResolved {
		t.Fatalf("breakdown %v, resolved at source %v: want both pods and still firing", pods, got[0].SourceResolved)
	}
}
