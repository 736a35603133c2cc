package alerts_test

import (
	"testing"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

// BenchmarkParseAlertmanagerOne is what intake parses per request under a
// storm of single alerts: Alertmanager's notification of one alert, shaped
// as runbot-load -compare sends it.
//
//	go test -run '^$' -bench ParseAlertmanagerOne -benchmem ./incidents/alerts
func BenchmarkParseAlertmanagerOne(b *testing.B) {
	body := []byte(`{"receiver":"runbot","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","app":"svc-7","namespace":"ns-3","pod":"svc-7-7f9c8d6-0b3e1","job":"api","prometheus":"monitoring/k8s","severity":"warning"},"annotations":{"summary":"Error rate above 5% on svc-7","description":"svc-7 answers 5xx to more than 5% of requests over 5m.","runbook_url":"https://runbooks.example/HighErrorRate"},"startsAt":"2026-12-02T07:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus-k8s-0:9090/graph?g0.expr=sum&g0.tab=1","fingerprint":"9e3779b97f4a7c15"}],"groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{"alertname":"HighErrorRate","app":"svc-7","namespace":"ns-3","pod":"svc-7-7f9c8d6-0b3e1","job":"api","prometheus":"monitoring/k8s","severity":"warning"},"commonAnnotations":{"summary":"Error rate above 5% on svc-7"},"externalURL":"http://alertmanager-main-0:9093","version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0}`)
	lim := alerts.BatchLimits{MaxAlerts: 10000, KeepOrder: 100}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := alerts.ParseBatch(alerts.SourceAlertmanager, body, lim); err != nil {
			b.Fatal(err)
		}
	}
}
