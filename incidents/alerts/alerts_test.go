package alerts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

func TestAlertmanagerFiring(t *testing.T) {
	got, err := alerts.ParseAlertmanager(readTestdata(t, "alertmanager-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d alerts, want 2 (one per entry)", len(got))
	}
	a := got[0]
	if a.Service != "user-sync-service" || a.Operation != "creating user" ||
		a.Severity != "critical" || a.Status != incidents.AlertFiring || a.Source != "alertmanager" {
		t.Fatalf("alert = %+v", a)
	}
	if a.Title != "[user-sync-service] creating user: POST /api/users: 403" {
		t.Fatalf("title %q", a.Title)
	}
	if a.Labels["pod"] != "user-sync-7d9f8b6c5-q8z1m" || a.StartsAt.IsZero() || !strings.Contains(a.Payload, `"fingerprint":"6d9bd4fd9ca3da4d"`) {
		t.Fatalf("labels %v starts %v payload %q", a.Labels, a.StartsAt, a.Payload)
	}
	// One rule on two pods of one service is one incident.
	if got[1].Fingerprint != a.Fingerprint {
		t.Fatalf("two pods of one rule have identities %s and %s", a.Fingerprint, got[1].Fingerprint)
	}
}

func TestAlertmanagerFingerprintIdentity(t *testing.T) {
	got, err := alerts.ParseAlertmanagerGrouped(readTestdata(t, "alertmanager-firing.json"), alerts.Grouping{Identity: alerts.IdentityFingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Fingerprint != "6d9bd4fd9ca3da4d" || got[1].Fingerprint != "4e819a9c33274b85" {
		t.Fatalf("alerts %+v, want Alertmanager's fingerprints", got)
	}
}

func TestAlertmanagerGroupIdentity(t *testing.T) {
	// A route without group_by puts unrelated rules in one group: the
	// group identity folds them, the default does not.
	body := `{"version":"4","groupKey":"{}:{}","alerts":[
		{"labels":{"alertname":"DiskFull","service":"db"},"fingerprint":"a1"},
		{"labels":{"alertname":"HighLatency","service":"api"},"fingerprint":"a2"}]}`
	byGroup, err := alerts.ParseAlertmanagerGrouped([]byte(body), alerts.Grouping{Identity: alerts.IdentityGroup})
	if err != nil {
		t.Fatal(err)
	}
	if byGroup[0].Fingerprint != byGroup[1].Fingerprint {
		t.Fatalf("the group identity gave one group two identities: %+v", byGroup)
	}
	byDefault, err := alerts.ParseAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if byDefault[0].Fingerprint == byDefault[1].Fingerprint {
		t.Fatal("the default identity folded two unrelated rules of one group")
	}
}

func TestGroupingRules(t *testing.T) {
	g := alerts.Grouping{Rules: []alerts.GroupingRule{{Source: "alertmanager", Match: map[string]string{"alertname": "NodeDown"}, By: []string{"instance"}}}}
	body := `{"version":"4","alerts":[
		{"labels":{"alertname":"NodeDown","instance":"n1","job":"node"}},
		{"labels":{"alertname":"NodeDown","instance":"n2","job":"node"}},
		{"labels":{"alertname":"Other","instance":"n1","job":"node"}},
		{"labels":{"alertname":"Other","instance":"n2","job":"node"}}]}`
	got, err := alerts.ParseAlertmanagerGrouped([]byte(body), g)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Fingerprint == got[1].Fingerprint {
		t.Error("the rule's by: [instance] did not tell two instances apart")
	}
	if got[2].Fingerprint != got[3].Fingerprint {
		t.Error("an alert no rule matches did not get the default identity")
	}
	if err := (alerts.Grouping{Identity: "pod"}).Check(); err == nil {
		t.Error("an unknown identity passed the check")
	}
}

func TestServiceFromWorkload(t *testing.T) {
	g := alerts.DefaultGrouping()
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"app.kubernetes.io/name": "cart", "app": "x", "service": "y"}, "cart"},
		{map[string]string{"deployment": "user-sync", "container": "kube-state-metrics", "service": "kps-kube-state-metrics"}, "user-sync"},
		{map[string]string{"container": "user-sync", "job": "kube-state-metrics", "service": "prometheus-kube-state-metrics"}, "user-sync"},
		{map[string]string{"pod": "user-sync-7d9f8b6c5-q8z1m", "namespace": "identity"}, "user-sync"},
		{map[string]string{"pod": "kafka-2", "job": "kube-state-metrics"}, "kafka"},
		{map[string]string{"pod": "fluent-bit-x7k2p"}, "fluent-bit"},
		{map[string]string{"job": "node-exporter", "namespace": "monitoring"}, "monitoring"},
		{map[string]string{"service": "user-sync-service", "pod": "user-sync-7d9f8b6c5-q8z1m"}, "user-sync-service"},
		{map[string]string{"alertname": "X"}, "unknown"},
	} {
		if got := g.Service(c.labels); got != c.want {
			t.Errorf("service of %v = %q, want %q", c.labels, got, c.want)
		}
	}
	custom := alerts.Grouping{ServiceLabels: []string{"team_service"}}
	if got := custom.Service(map[string]string{"team_service": "ledger", "app": "x"}); got != "ledger" {
		t.Errorf("configured service labels: %q", got)
	}
}

func TestNormalizeTitle(t *testing.T) {
	for in, want := range map[string]string{
		"POST /api/users/4711: 403":                                    "POST /api/users/{id}: 403",
		"GET /orders/0b8f5c2e-3a1d-4c6b-9e7f-1a2b3c4d5e6f/items/7":     "GET /orders/{id}/items/{id}",
		"GET /search?user=42&q=shoes: 500":                             "GET /search?user={id}&q=shoes: 500",
		"GET https://api.example.com:8443/v1/users/12 failed with 502": "GET https://api.example.com:8443/v1/users/{id} failed with 502",
		"3/5 replicas available":                                       "3/5 replicas available",
		"Pod is crash looping.":                                        "Pod is crash looping.",
	} {
		if got := alerts.NormalizeTitle(in); got != want {
			t.Errorf("NormalizeTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAlertmanagerResolvedEntry(t *testing.T) {
	got, err := alerts.ParseAlertmanager(readTestdata(t, "alertmanager-resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The other pod of the rule still fires: its incident is not
	// resolved at source, so the resolved entry is no news.
	if len(got) != 1 || got[0].Status != incidents.AlertFiring {
		t.Fatalf("alerts %+v, want the firing one alone", got)
	}
	byFP, err := alerts.ParseAlertmanagerGrouped(readTestdata(t, "alertmanager-resolved.json"), alerts.Grouping{Identity: alerts.IdentityFingerprint})
	if err != nil {
		t.Fatal(err)
	}
	var resolved int
	for _, a := range byFP {
		if a.Status == incidents.AlertResolved {
			resolved++
			if a.Fingerprint != "4e819a9c33274b85" {
				t.Errorf("resolved entry fingerprint %q", a.Fingerprint)
			}
		}
	}
	if resolved != 1 {
		t.Fatalf("%d resolved entries, want 1", resolved)
	}
}

func TestOperationFromSummaryWhenNoLabel(t *testing.T) {
	body := `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X","job":"billing"},
		"annotations":{"summary":"[billing] exporting invoices: timeout after 30s"},"fingerprint":"f1"}]}`
	got, err := alerts.ParseAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Operation != "exporting invoices" || got[0].Service != "billing" {
		t.Fatalf("got %+v", got[0])
	}
}

func TestGrafana(t *testing.T) {
	got, err := alerts.ParseGrafana(readTestdata(t, "grafana-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d alerts", len(got))
	}
	doc, pod := got[0], got[1]
	if doc.Source != "grafana" || doc.Service != "document-service" ||
		doc.Operation != "rendering document" || doc.Severity != "warning" {
		t.Fatalf("doc alert %+v", doc)
	}
	byFP, err := alerts.ParseGrafanaGrouped(readTestdata(t, "grafana-firing.json"), alerts.Grouping{Identity: alerts.IdentityFingerprint})
	if err != nil || byFP[0].Fingerprint != "a1b2c3d4e5f60718" {
		t.Fatalf("with the fingerprint identity, Grafana's own is kept: %+v, %v", byFP, err)
	}
	if pod.Service != "payment-gateway" || pod.Status != incidents.AlertResolved {
		t.Fatalf("pod alert %+v", pod)
	}
	if _, ok := pod.Labels["__alert_rule_uid__"]; ok {
		t.Fatal("internal __ labels should not reach the breakdown")
	}
}

func TestGeneric(t *testing.T) {
	got, err := alerts.ParseGeneric(readTestdata(t, "generic-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d alerts", len(got))
	}
	if got[0].Operation != "creating user" || got[0].Fingerprint == "" || got[0].Labels["user_id"] != "48213" {
		t.Fatalf("first %+v", got[0])
	}
	if got[1].Fingerprint != "billing-export-stall" || got[1].Priority != incidents.P1 {
		t.Fatalf("second %+v", got[1])
	}
	one, err := alerts.ParseGeneric([]byte(`{"service":"api","summary":"latency high","severity":"warning"}`))
	if err != nil || len(one) != 1 || one[0].Service != "api" {
		t.Fatalf("single object: %+v %v", one, err)
	}
}

func TestBadPayloadsNameTheProblem(t *testing.T) {
	cases := []struct {
		source, body, want string
	}{
		{"generic", `[{"service":"a","summary":"x"},{"service":"b"}]`, "alerts[1]: summary is required"},
		{"generic", `[{"service":"a","summary":"x","sevrity":"critical"}]`, `alerts[0]: unknown field "sevrity"`},
		{"generic", `{"service":"a","summary":"x","status":"broken"}`, `status "broken" is not firing or resolved`},
		{"generic", `{"service":"a","summary":"x","priority":"P9"}`, `priority "P9"`},
		{"generic", `{"summary":"nothing to say where"}`, "service is required"},
		{"generic", `{"service":"a","summary":"x","labels":{"pod":3}}`, "labels: a JSON number where a string is expected"},
		{"generic", `{"service":`, "malformed JSON"},
		{"generic", `[]`, "no alerts"},
		{"generic", ``, "empty body"},
		{"alertmanager", `{"version":"3","alerts":[]}`, `unsupported alertmanager webhook version "3"`},
		{"alertmanager", `{"version":"4","alerts":[]}`, "no alerts"},
		{"alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"a"}},{"status":"firing"}]}`, "alerts[1]: labels are missing"},
		{"alertmanager", `not json`, "malformed JSON"},
		{"grafana", `{"alerts":[{"status":"weird","labels":{"a":"b"}}]}`, `alerts[0]: status "weird"`},
		{"log", "\n  \n", "no alerts"},
	}
	for _, c := range cases {
		_, err := alerts.Parse(c.source, []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want it to contain %q", c.source, c.body, err, c.want)
		}
	}
	if _, err := alerts.Parse("nagios", []byte("{}")); !errors.Is(err, alerts.ErrUnknownSource) {
		t.Errorf("unknown source: %v", err)
	}
}

func TestLogLines(t *testing.T) {
	got, err := alerts.ParseLog(readTestdata(t, "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d alerts, want 6 (blank line skipped)", len(got))
	}
	plain, prefixed, jsonRec, logfmtRec, panicLine, health := got[0], got[1], got[2], got[3], got[4], got[5]

	if plain.Service != "user-sync-service" || plain.Operation != "creating user" || plain.Title != "creating user: POST /api/users: 403" {
		t.Errorf("plain story %+v", plain)
	}
	if prefixed.Service != "user-sync-service" || prefixed.Severity != "error" || prefixed.Fingerprint != plain.Fingerprint {
		t.Errorf("prefixed line %+v: the user id in the URL must not change the fingerprint", prefixed)
	}
	if jsonRec.Service != "user-sync-service" || jsonRec.Operation != "creating user" || jsonRec.Fingerprint != plain.Fingerprint ||
		jsonRec.Labels["pod_id"] != "user-sync-7d9f8b6c5-q8z1m" || jsonRec.Labels["user_id"] != "90211" {
		t.Errorf("JSON record %+v", jsonRec)
	}
	if _, ok := jsonRec.Labels["time"]; ok {
		t.Error("time field became a label")
	}
	if logfmtRec.Service != "document-service" || logfmtRec.Operation != "rendering document" || logfmtRec.Title != "rendering document: empty body" ||
		logfmtRec.Labels["pod_id"] != "document-service-6f7c9d-2hxlq" {
		t.Errorf("logfmt record %+v", logfmtRec)
	}
	if panicLine.Service != "unknown" || !strings.HasPrefix(panicLine.Title, "panic: runtime error") {
		t.Errorf("unshaped line %+v: kept with service unknown and the line as title", panicLine)
	}
	if health.Operation != "health check" || health.Title != "health check: GET http://10.0.3.17:8080/healthz: connection refused" {
		t.Errorf("health line %+v", health)
	}
}

func TestParseStory(t *testing.T) {
	cases := map[string]alerts.Story{
		"[user-sync-service] creating user: POST /api/users: 403": {Service: "user-sync-service", Operation: "creating user", Error: "POST /api/users: 403"},
		"[ERROR] [billing] charging card: declined":               {Service: "billing", Operation: "charging card", Error: "declined", Level: "error"},
		"[2026-11-24 08:00:00] WARN [cache] evicting: slow":       {Service: "cache", Operation: "evicting", Error: "slow", Level: "warning"},
		"[api] something broke":                                   {Service: "api", Error: "something broke"},
	}
	for in, want := range cases {
		got, ok := alerts.ParseStory(in)
		if !ok || got != want {
			t.Errorf("ParseStory(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"no brackets: here", "[api]", "failed to parse [config] key: value", "[not a service!] x: y"} {
		if got, ok := alerts.ParseStory(in); ok {
			t.Errorf("ParseStory(%q) = %+v, want no story", in, got)
		}
	}
}

func TestFingerprintNormalization(t *testing.T) {
	same := [][2]string{
		{"GET /users/48213: 404", "GET /users/1000001: 404"},
		{"user 3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c not found", "user 00000000-1111-2222-3333-444444444444 not found"},
		{"dial tcp 10.0.3.17:5432: connection refused", "dial tcp 10.0.9.201:5432: connection refused"},
		{"dial tcp [2001:db8::1]:443: timeout", "dial tcp [2001:db8::ff]:443: timeout"},
		{"at 2026-11-24T08:01:12.118Z job failed", "at 2026-11-25T23:59:59Z job failed"},
		{"object 5f1d7ac0b9e4 missing", "object 9a8b7c6d5e4f missing"},
		{"pointer 0x1f missing", "pointer 0xc000123abc missing"},
	}
	for _, p := range same {
		if a, b := alerts.Fingerprint("svc", "op", p[0]), alerts.Fingerprint("svc", "op", p[1]); a != b {
			t.Errorf("%q and %q: fingerprints differ (%s, %s), want the same failure", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{"POST /api/users: 403", "POST /api/users: 500"},
		{"retry 3 of 5", "retry 4 of 5"},
		{"cache miss", "cache hit"},
	}
	for _, p := range differ {
		if a, b := alerts.Fingerprint("svc", "op", p[0]), alerts.Fingerprint("svc", "op", p[1]); a == b {
			t.Errorf("%q and %q share fingerprint %s, want two failures", p[0], p[1], a)
		}
	}
	if alerts.Fingerprint("a", "op", "x") == alerts.Fingerprint("b", "op", "x") {
		t.Error("service is not part of the fingerprint")
	}
	if alerts.Fingerprint("a", "op", "x") == alerts.Fingerprint("a", "op2", "x") {
		t.Error("operation is not part of the fingerprint")
	}
}

// A user id in a URL path is the same failure for another user; the
// status code after it is another failure.
func TestFingerprintIgnoresIDsInPaths(t *testing.T) {
	a := alerts.Fingerprint("user-sync-service", "creating user", "POST /api/users/42: 403")
	if b := alerts.Fingerprint("user-sync-service", "creating user", "POST /api/users/43: 403"); a != b {
		t.Error("two user ids in a path are two failures")
	}
	if c := alerts.Fingerprint("user-sync-service", "creating user", "POST /api/users/42: 500"); a == c {
		t.Error("a 403 and a 500 are one failure")
	}
}
