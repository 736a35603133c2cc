package alerts_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

// shipperIncident is what a person would open by hand from a shipper's
// batch: one per failure, whatever pod, time or id each record carries.
type shipperIncident struct {
	service, title string
	alerts         int
	labels         map[string][]string // label -> the values seen, sorted
}

// fileLog reads a body as the intake does for its Content-Type and groups
// the alerts by fingerprint, the way the store opens incidents.
func fileLog(t *testing.T, body []byte, contentType string) ([]shipperIncident, *alerts.Batch) {
	t.Helper()
	framing, err := alerts.LogFraming(contentType)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", contentType, err)
	}
	b, err := alerts.ParseLogBatch(body, framing, alerts.BatchLimits{KeepOrder: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []shipperIncident
	at := map[string]int{}
	for i, a := range b.Alerts {
		checkAlert(t, a)
		k, ok := at[a.Fingerprint]
		if !ok {
			k = len(out)
			at[a.Fingerprint] = k
			out = append(out, shipperIncident{service: a.Service, title: a.Title, labels: map[string][]string{}})
		}
		out[k].alerts += b.Repeats[i]
		for name, v := range a.Labels {
			if !slices.Contains(out[k].labels[name], v) {
				out[k].labels[name] = append(out[k].labels[name], v)
				slices.Sort(out[k].labels[name])
			}
		}
	}
	return out, b
}

func TestShipperPayloadsFileTheIncidentsAPersonWould(t *testing.T) {
	type want struct {
		service, title string
		alerts         int
		labels         map[string]string // label -> its values, sorted and joined by ","
		noLabels       []string
	}
	shipperNoise := []string{"date", "time", "stream", "_p", "log", "message", "kubernetes", "timestamp", "@timestamp",
		"@version", "file", "source_type", "event", "pod_id", "docker_id", "container_image", "short_message", "full_message",
		"version", "_time", "_stream", "_kubernetes_pod_name"}
	cases := []struct {
		file, contentType string
		skipped           int
		want              []want
	}{
		{"fluentbit-json-k8s.json", "application/json", 0, []want{
			{service: "payments", title: "charging card: POST https://psp.example/v1/charges: 502", alerts: 2,
				labels: map[string]string{"namespace": "shop", "pod": "payments-5c9d7f8b4-x2k4p", "container": "payments", "app": "payments", "node": "node-a"}},
			{service: "checkout", title: "panic: runtime error: invalid memory address or nil pointer dereference", alerts: 1,
				labels: map[string]string{"namespace": "shop", "pod": "checkout-6b8f9d7c5-q8z1m", "container": "checkout", "app": "checkout"}},
		}},
		{"fluentbit-json_lines-k8s.ndjson", "application/json", 6, []want{ // Fluent Bit types every JSON format so
			{service: "user-sync-service", title: "creating user: POST /api/users/{id}: 403", alerts: 6,
				labels: map[string]string{"namespace": "identity", "pod": "user-sync-7d9f8b6c5-q8z1m", "container": "user-sync", "app": "user-sync"}},
		}},
		{"fluentbit-gelf-k8s.ndjson", "application/json", 6, []want{ // the same records through format gelf
			{service: "user-sync-service", title: "creating user: POST /api/users/{id}: 403", alerts: 6,
				labels: map[string]string{"namespace": "identity", "pod": "user-sync-7d9f8b6c5-q8z1m", "container": "user-sync", "app": "user-sync", "node": "node-a"}},
		}},
		{"vector-json-k8s.json", "application/json", 1, []want{
			{service: "orders", title: "reserving stock: dial tcp 10.43.0.12:5432: connect: connection refused", alerts: 2,
				labels: map[string]string{"namespace": "shop", "pod": "orders-8c7d6e5f4-7hxlq,orders-8c7d6e5f4-p9m3w", "container": "orders",
					"order_id": "ord_8812731,ord_8812790", "node": "node-c"},
				noLabels: []string{"msg", "error"}},
			{service: "orders", title: "booking shipment: carrier API timeout after 30s", alerts: 1,
				labels:   map[string]string{"pod": "orders-8c7d6e5f4-7hxlq", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "caller": "orders/ship.go:88"},
				noLabels: []string{"ts"}},
		}},
		{"vector-ndjson-k8s.ndjson", "application/x-ndjson", 1, []want{
			{service: "orders", title: "reserving stock: dial tcp 10.43.0.12:5432: connect: connection refused", alerts: 2,
				labels: map[string]string{"pod": "orders-8c7d6e5f4-7hxlq,orders-8c7d6e5f4-p9m3w"}},
			{service: "orders", title: "booking shipment: carrier API timeout after 30s", alerts: 1},
		}},
		{"logstash-json_batch.json", "application/json", 0, []want{
			{service: "billing", title: "exporting invoices: PUT /exports/{id}: 500 Internal Server Error", alerts: 2,
				labels: map[string]string{"host": "billing-vm-2"}, noLabels: []string{"tags"}},
			{service: "billing", title: "reconciling ledger: 3 entries out of balance", alerts: 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, b := fileLog(t, readTestdata(t, "shippers/"+c.file), c.contentType)
			if b.Skipped != c.skipped {
				t.Errorf("%d records skipped, want %d (the healthy INFO records)", b.Skipped, c.skipped)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d incidents, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.service != w.service || g.title != w.title || g.alerts != w.alerts {
					t.Errorf("incident %d: [%s] %q x%d, want [%s] %q x%d", i, g.service, g.title, g.alerts, w.service, w.title, w.alerts)
				}
				for name, v := range w.labels {
					if gv := strings.Join(g.labels[name], ","); gv != v {
						t.Errorf("incident %d: label %s = %q, want %q", i, name, gv, v)
					}
				}
				for _, name := range append(w.noLabels, shipperNoise...) {
					if v, ok := g.labels[name]; ok {
						t.Errorf("incident %d: the shipper's %s became a label (%q): labels are %v", i, name, v, slices.Sorted(maps.Keys(g.labels)))
					}
				}
			}
		})
	}
}

// An array and the same records one per line are the same alerts.
func TestShipperArrayAndLinesFileTheSame(t *testing.T) {
	array, ab := fileLog(t, readTestdata(t, "shippers/vector-json-k8s.json"), "application/json")
	lines, lb := fileLog(t, readTestdata(t, "shippers/vector-ndjson-k8s.ndjson"), "application/x-ndjson")
	if fmt.Sprint(array) != fmt.Sprint(lines) || ab.Sent != lb.Sent || ab.Skipped != lb.Skipped {
		t.Fatalf("array:\n %+v\nlines:\n %+v", array, lines)
	}
}

func TestLogContentTypes(t *testing.T) {
	for ct, want := range map[string]alerts.Framing{
		"": alerts.FramingAuto, "text/plain; charset=utf-8": alerts.FramingLines, "application/json": alerts.FramingJSON,
		"application/x-ndjson": alerts.FramingNDJSON, "application/jsonlines": alerts.FramingNDJSON,
		"application/x-www-form-urlencoded": alerts.FramingAuto, // curl --data-binary without -H
	} {
		if got, err := alerts.LogFraming(ct); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", ct, got, err, want)
		}
	}
	if _, err := alerts.LogFraming("application/x-protobuf"); !strings.Contains(fmt.Sprint(err), "codec json") {
		t.Errorf("protobuf: %v, want an error naming Vector's json codec", err)
	}
	for _, ct := range []string{"application/msgpack", "application/x-msgpack"} {
		_, err := alerts.LogFraming(ct)
		var unsupported *alerts.UnsupportedTypeError
		if !errors.As(err, &unsupported) || !strings.Contains(err.Error(), "format json_lines") {
			t.Errorf("%q: %v, want an UnsupportedTypeError naming Fluent Bit's format json_lines", ct, err)
		}
	}
}

// Bytes that are not text are refused, never filed as a garbage title.
func TestLogRefusesBinaryBodies(t *testing.T) {
	msgpack := []byte("\x92\xd7\x00\x69\x23\x45\x67\x00\x00\x00\x00\x81\xa3log\xd9\x2a[user-sync-service] creating user: 403")
	for _, f := range []alerts.Framing{alerts.FramingAuto, alerts.FramingLines, alerts.FramingNDJSON, alerts.FramingJSON} {
		_, err := alerts.ParseLogBatch(msgpack, f, alerts.BatchLimits{})
		var notText *alerts.NotTextError
		if !errors.As(err, &notText) {
			t.Errorf("framing %v: %v, want a NotTextError", f, err)
		}
	}
	if _, err := alerts.ParseLog(msgpack); err == nil {
		t.Error("ParseLog filed msgpack")
	}
}

// A JSON body under a JSON type must be records; what is not gets a 400
// naming the record, rather than a title made of the whole body.
func TestLogJSONFramingNamesBadRecords(t *testing.T) {
	for body, want := range map[string]string{
		`[{"log":"x"}, 3]`:     "records[1]",
		`[{"log":"x"}`:         "malformed JSON",
		`not json`:             "application/json",
		`{"log":"x"} trailing`: "malformed JSON",
	} {
		if _, err := alerts.ParseLogBatch([]byte(body), alerts.FramingJSON, alerts.BatchLimits{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to contain %q", body, err, want)
		}
	}
	// A batch of healthy lines only is accepted: a shipper answered 400
	// would send it again, and then drop it.
	b, err := alerts.ParseLogBatch([]byte(`[{"log":"ok","level":"info"}]`), alerts.FramingJSON, alerts.BatchLimits{})
	if err != nil || b.Sent != 0 || b.Skipped != 1 {
		t.Fatalf("%v %+v", err, b)
	}
}

// Filebeat's add_kubernetes_metadata (ECS: kubernetes.namespace,
// kubernetes.pod.name, kubernetes.container.name, kubernetes.node.name,
// kubernetes.labels with dots made underscores) through Logstash, with
// the level in log.level.
func TestShipperReadsECSKubernetesFields(t *testing.T) {
	rec := `{"@timestamp":"2026-11-24T08:01:12.118Z","message":"exporting invoices: PUT /exports/48213: 500",` +
		`"log":{"level":"error","file":{"path":"/var/log/containers/billing-6f7c9d-2hxlq_shop_billing-1f2e.log"}},` +
		`"kubernetes":{"namespace":"shop","pod":{"name":"billing-6f7c9d-2hxlq","uid":"3c2b1a09"},"container":{"name":"billing"},` +
		`"node":{"name":"node-d"},"labels":{"app_kubernetes_io/name":"billing"}}}`
	a := alerts.ParseLine(rec)
	want := map[string]string{"namespace": "shop", "pod": "billing-6f7c9d-2hxlq", "container": "billing", "node": "node-d", "app": "billing"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if a.Service != "billing" || a.Severity != "error" || a.Title != "exporting invoices: PUT /exports/{id}: 500" {
		t.Errorf("[%s] %q severity %q", a.Service, a.Title, a.Severity)
	}
	if _, ok := a.Labels["log"]; ok {
		t.Errorf("the ECS log object became a label: %v", a.Labels)
	}
}

// A line that is no story, such as klog's, still files the same failure
// at any time: its timestamp is not part of what failed.
func TestShipperRecordsOfOneFailureAtTwoTimesAreOneAlert(t *testing.T) {
	body := `{"date":1795507272.118337,"log":"E1124 08:01:12.118337       1 reflector.go:138] failed to list *v1.Pod: connection refused","kubernetes":{"pod_name":"ctl-0","labels":{"app":"ctl"}}}
{"date":1795507335.904112,"log":"E1124 08:02:15.904112       1 reflector.go:138] failed to list *v1.Pod: connection refused","kubernetes":{"pod_name":"ctl-0","labels":{"app":"ctl"}}}`
	b, err := alerts.ParseLogBatch([]byte(body), alerts.FramingNDJSON, alerts.BatchLimits{})
	if err != nil || len(b.Alerts) != 1 || b.Repeats[0] != 2 || b.Alerts[0].Service != "ctl" {
		t.Fatalf("%v: %+v, want one ctl alert sent twice", err, b)
	}
}

// Kubernetes components log in klog's shape: the level is its first
// letter, and the message after the header is what failed.
func TestShipperReadsKlogLines(t *testing.T) {
	b, err := alerts.ParseLogBatch([]byte(`{"log":"I1124 08:01:12.118337       1 leaderelection.go:250] attempting to acquire leader lease kube-system/ctl...","kubernetes":{"pod_name":"ctl-0","labels":{"app":"ctl"}}}
{"log":"E1124 08:01:13.204551       1 reflector.go:138] failed to list *v1.Pod: connection refused","kubernetes":{"pod_name":"ctl-0","labels":{"app":"ctl"}}}
W1124 08:01:14.000001   12345 warnings.go:70] v1 Endpoints is deprecated in v1.33+`), alerts.FramingNDJSON, alerts.BatchLimits{})
	if err != nil || b.Skipped != 1 || len(b.Alerts) != 2 {
		t.Fatalf("%v: %+v, want the info line skipped and two alerts", err, b)
	}
	if a := b.Alerts[0]; a.Service != "ctl" || a.Title != "failed to list *v1.Pod: connection refused" || a.Severity != "error" {
		t.Errorf("klog in a record: [%s] %q %s", a.Service, a.Title, a.Severity)
	}
	if a := b.Alerts[1]; a.Title != "v1 Endpoints is deprecated in v1.33+" || a.Severity != "warning" {
		t.Errorf("klog line: [%s] %q %s", a.Service, a.Title, a.Severity)
	}
}

// Levels written as numbers: bunyan's and pino's 10..60 and syslog's 0..7
// (GELF, journald). A healthy line left out, a failing one kept with its
// severity, whatever the scale.
func TestLogNumericLevels(t *testing.T) {
	for _, c := range []struct {
		line, severity string
		quiet          bool
	}{
		{`{"level":30,"time":1795507272118,"pid":7,"hostname":"api-1","msg":"request completed"}`, "", true},     // pino info
		{`{"level":20,"time":1795507272118,"msg":"cache warm"}`, "", true},                                       // pino debug
		{`{"level":50,"time":1795507272118,"msg":"[payments] charging card: 502"}`, "error", false},              // pino error
		{`{"level":60,"time":"2026-11-24T08:01:12Z","msg":"out of memory","name":"billing"}`, "critical", false}, // bunyan fatal
		{`{"level":40,"time":"2026-11-24T08:01:12Z","msg":"slow query: 2.1s"}`, "warning", false},
		{`{"PRIORITY":"6","SYSLOG_IDENTIFIER":"sshd","message":"session opened"}`, "", true}, // journald info
		{`{"PRIORITY":"3","SYSLOG_IDENTIFIER":"backup","message":"writing snapshot: disk full"}`, "error", false},
		{`{"level":"alert","msg":"raid degraded"}`, "critical", false},
		{`{"level":8,"msg":"an unknown scale stays an alert"}`, "8", false},
	} {
		b, err := alerts.ParseLogBatch([]byte(c.line), alerts.FramingJSON, alerts.BatchLimits{})
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if c.quiet {
			if b.Skipped != 1 || len(b.Alerts) != 0 {
				t.Errorf("%s: %d alerts, %d skipped; want it skipped as healthy", c.line, len(b.Alerts), b.Skipped)
			}
			continue
		}
		if len(b.Alerts) != 1 || b.Alerts[0].Severity != c.severity {
			t.Errorf("%s: %+v, want one alert of severity %q", c.line, b.Alerts, c.severity)
		}
	}
	b, _ := alerts.ParseLogBatch([]byte(`{"PRIORITY":"3","SYSLOG_IDENTIFIER":"backup","message":"writing snapshot: disk full"}`), alerts.FramingJSON, alerts.BatchLimits{})
	if a := b.Alerts[0]; a.Service != "backup" || a.Title != "writing snapshot: disk full" {
		t.Errorf("journald record: [%s] %q, want [backup] from SYSLOG_IDENTIFIER", a.Service, a.Title)
	}
}

// GELF as Graylog's libraries and Docker's gelf driver write it: the
// line in short_message, a syslog level, extra fields underscored.
func TestLogGELF(t *testing.T) {
	docker := func(level int, msg string) string {
		return fmt.Sprintf(`{"version":"1.1","host":"vm-7","short_message":%q,"timestamp":1795507272.118,"level":%d,`+
			`"_command":"/app/server","_container_id":"1c2d3e4f5a6b","_container_name":"shop-payments-1","_created":"2026-11-24T07:00:00Z",`+
			`"_image_id":"sha256:9f8e","_image_name":"registry.example/payments:3.1","_tag":"1c2d3e4f5a6b","_com.docker.compose.service":"payments"}`, msg, level)
	}
	body := strings.Join([]string{
		docker(3, "charging card: POST https://psp.example/v1/charges/88123: 502"),
		docker(6, "GET /healthz 200"),
		docker(3, "charging card: POST https://psp.example/v1/charges/88190: 502"),
		`{"version":"1.1","host":"api-2","short_message":"","full_message":"exporting invoices: 500\n\tat Export.run(Export.java:41)","level":2,"_service":"billing"}`,
	}, "\n")
	b, err := alerts.ParseLogBatch([]byte(body), alerts.FramingJSON, alerts.BatchLimits{KeepOrder: 100})
	if err != nil {
		t.Fatal(err)
	}
	if b.Skipped != 1 || len(b.Alerts) != 2 || b.Repeats[0] != 2 {
		t.Fatalf("%d alerts %v, %d skipped; want the two 502s as one alert, the billing trace another, the 200 skipped", len(b.Alerts), b.Repeats, b.Skipped)
	}
	pay, bill := b.Alerts[0], b.Alerts[1]
	if pay.Service != "payments" || pay.Severity != "error" || pay.Title != "charging card: POST https://psp.example/v1/charges/{id}: 502" {
		t.Errorf("docker record: [%s] %q %s", pay.Service, pay.Title, pay.Severity)
	}
	for k, v := range map[string]string{"host": "vm-7", "container_name": "shop-payments-1", "image_name": "registry.example/payments:3.1"} {
		if pay.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, pay.Labels[k], v, pay.Labels)
		}
	}
	for _, k := range []string{"short_message", "version", "_container_name", "container_id", "created", "command", "image_id", "timestamp"} {
		if _, ok := pay.Labels[k]; ok {
			t.Errorf("GELF's %s became a label: %v", k, pay.Labels)
		}
	}
	if bill.Service != "billing" || bill.Severity != "critical" || bill.Title != "exporting invoices: 500" {
		t.Errorf("full_message only: [%s] %q %s, want its first line", bill.Service, bill.Title, bill.Severity)
	}
}

// A JSON array sent as text (curl -H 'Content-Type: text/plain') is its
// records, not one alert titled with the whole array.
func TestLogJSONArrayAsText(t *testing.T) {
	body := readTestdata(t, "shippers/fluentbit-json-k8s.json")
	text, tb := fileLog(t, body, "text/plain")
	typed, jb := fileLog(t, body, "application/json")
	if fmt.Sprint(text) != fmt.Sprint(typed) || tb.Sent != jb.Sent || len(text) != 2 {
		t.Fatalf("as text:\n %+v\nas JSON:\n %+v", text, typed)
	}
}
