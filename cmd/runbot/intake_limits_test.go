package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/loadgen"
)

// TestDefaultsTakeAnAlertmanagerGroupAndALogFlood: with no configuration,
// runbot takes a fleet-wide crash loop as Alertmanager sends it (1,800
// alerts in one 1.8 MB notification, which Alertmanager never splits and
// drops on a 4xx), and a gzipped megabyte of one log line as one alert
// counted for every line; each answer is a summary.
func TestDefaultsTakeAnAlertmanagerGroupAndALogFlood(t *testing.T) {
	b := startBot(t, config.Default())
	type answer struct {
		Accepted    int     `json:"accepted"`
		Distinct    int     `json:"distinct"`
		Opened      int     `json:"opened"`
		IncidentIDs []int64 `json:"incident_ids"`
		Incidents   []any   `json:"incidents"`
	}
	post := func(path, ctype string, body []byte, gz bool) (int, string, answer) {
		t.Helper()
		h := map[string]string{"Content-Type": ctype}
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
			body, h["Content-Encoding"] = buf.Bytes(), "gzip"
		}
		var raw string
		code := callBody(t, "POST", b.url+path, h, string(body), &raw)
		var a answer
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatalf("POST %s: %d %.200q is not JSON", path, code, raw)
		}
		return code, raw, a
	}

	code, raw, got := post("/api/v1/alerts/alertmanager", "application/json", loadgen.AlertmanagerGroup(1800), false)
	// One incident per namespace and workload of the group's pods: 24.
	if code != 200 || got.Accepted != 1800 || got.Opened != 24 || len(got.IncidentIDs) != 24 || got.Incidents != nil {
		t.Fatalf("the 1,800-alert group: %d %.300s", code, raw)
	}
	if len(raw) > 16<<10 {
		t.Errorf("the answer to one group is %d bytes", len(raw))
	}
	if n := len(listIncidents(t, b.url, "", "?state=active&limit=1000")); n != 24 {
		t.Fatalf("%d active incidents listed, want 24", n)
	}

	flood := loadgen.LogFlood(1 << 20)
	code, raw, got = post("/api/v1/alerts/log", "text/plain", flood, true)
	if code != 200 || got.Accepted != len(flood)/2 || got.Distinct != 1 || got.Opened != 1 || len(raw) > 256 {
		t.Fatalf("a gzipped flood of one line: %d %.300s", code, raw)
	}
	var inc incidentView
	if call(t, "GET", b.url+"/api/v1/incidents/25", "", "", &inc); inc.AlertCount != len(flood)/2 {
		t.Fatalf("the flood's incident counts %d alerts, want %d", inc.AlertCount, len(flood)/2)
	}
}
