package alerts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// These fuzz targets assert properties, not only the absence of panics.
// CI runs each briefly (see .ci/run); `go test` runs their seed corpus.

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"POST /api/users/48213: 403", "dial tcp 10.0.3.17:5432: refused", "2026-11-24T08:01:12Z x",
		"id 3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c", "[2001:db8::1]:443", "0xdeadbeef", "12:00:00 a1b2c3d4e5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := alerts.Normalize(s)
		if twice := alerts.Normalize(once); twice != once {
			t.Fatalf("Normalize is not idempotent:\n in   %q\n once %q\n twice %q", s, once, twice)
		}
	})
}

func FuzzFingerprintIgnoresIDs(f *testing.F) {
	f.Add("GET /users", "not found", uint64(48213), uint64(1000001))
	f.Add("charging card", "declined for order", uint64(1000), uint64(99999999999))
	f.Fuzz(func(t *testing.T, prefix, suffix string, id1, id2 uint64) {
		if id1 < 1000 || id2 < 1000 {
			t.Skip("short numbers are meaningful (status codes) and kept")
		}
		e1 := prefix + " " + strconv.FormatUint(id1, 10) + " " + suffix
		e2 := prefix + " " + strconv.FormatUint(id2, 10) + " " + suffix
		if a, b := alerts.Fingerprint("svc", "op", e1), alerts.Fingerprint("svc", "op", e2); a != b {
			t.Fatalf("same failure with another id got another fingerprint:\n %q -> %s\n %q -> %s", e1, a, e2, b)
		}
	})
}

func FuzzFingerprintKeepsStatusCodes(f *testing.F) {
	f.Add("POST /api/users:", "", uint16(403), uint16(500))
	f.Fuzz(func(t *testing.T, prefix, suffix string, c1, c2 uint16) {
		c1, c2 = 100+c1%900, 100+c2%900
		if c1 == c2 {
			t.Skip()
		}
		e1 := prefix + " " + strconv.Itoa(int(c1)) + " " + suffix
		e2 := prefix + " " + strconv.Itoa(int(c2)) + " " + suffix
		if alerts.Fingerprint("svc", "op", e1) == alerts.Fingerprint("svc", "op", e2) {
			t.Fatalf("%q and %q share a fingerprint: a %d and a %d are two failures", e1, e2, c1, c2)
		}
	})
}

func FuzzParseLog(f *testing.F) {
	f.Add(readTestdataF(f, "app.log"))
	f.Add([]byte(`{"msg":"[api] saving: disk full","level":"error"}` + "\n" + `level=warn msg=hi service=x`))
	f.Add([]byte("\r\n[svc] op: err\r\n\n"))
	f.Add([]byte("INFO [svc] started\n[svc] op: err"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var lines []string
		for _, l := range strings.Split(string(body), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		got, err := alerts.ParseLog(body)
		var notText *alerts.NotTextError
		if errors.As(err, &notText) {
			if isText(body) {
				t.Fatalf("text refused as binary: %v", err)
			}
			return
		}
		if len(lines) == 0 {
			if err == nil {
				t.Fatalf("blank body accepted: %+v", got)
			}
			return
		}
		if err != nil {
			t.Fatalf("a log body with %d lines was rejected: %v (alerts are never dropped for their form)", len(lines), err)
		}
		for _, a := range got {
			checkAlert(t, a)
		}
		if n, ok := jsonRecords(bytes.TrimSpace(body)); ok && n > 0 {
			if len(got) > n {
				t.Fatalf("%d alerts from %d records", len(got), n)
			}
			return
		}
		// One alert per line, in order, but for the lines whose level
		// says nothing is wrong.
		j := 0
		for i, a := range got {
			for ; j < len(lines) && lines[j] != a.Payload; j++ {
				if l := alerts.ParseLine(lines[j]); l.Severity != "info" {
					t.Fatalf("line %q (severity %q) left out", lines[j], l.Severity)
				}
			}
			if j == len(lines) {
				t.Fatalf("alert %d payload %q is none of the lines after", i, a.Payload)
			}
			j++
		}
	})
}

func FuzzLogLineIgnoresIDs(f *testing.F) {
	f.Add("user-sync-service", "creating user", "POST /api/users", uint64(48213), uint64(7777777))
	f.Fuzz(func(t *testing.T, service, op, errText string, id1, id2 uint64) {
		if id1 < 1000 || id2 < 1000 {
			t.Skip()
		}
		l1 := "[" + service + "] " + op + ": " + errText + " user " + strconv.FormatUint(id1, 10)
		l2 := "[" + service + "] " + op + ": " + errText + " user " + strconv.FormatUint(id2, 10)
		a, b := alerts.ParseLine(l1), alerts.ParseLine(l2)
		if a.Fingerprint != b.Fingerprint {
			t.Fatalf("%q -> %s and %q -> %s: the same failure for another user", l1, a.Fingerprint, l2, b.Fingerprint)
		}
	})
}

func FuzzParseGeneric(f *testing.F) {
	f.Add(readTestdataF(f, "generic-batch.json"))
	f.Add([]byte(`{"service":"api","summary":"[api] x: y","labels":{"a":"b"},"status":"resolved"}`))
	f.Add([]byte(`[{"summary":"[billing] charging: 500"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := alerts.ParseGeneric(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		want := 1
		if trimmed := bytes.TrimSpace(body); trimmed[0] == '[' {
			var raws []json.RawMessage
			if json.Unmarshal(trimmed, &raws) != nil {
				t.Fatalf("accepted an array that is not JSON: %q", body)
			}
			want = len(raws)
		}
		if len(got) != want {
			t.Fatalf("%d alerts from %d entries", len(got), want)
		}
		for _, a := range got {
			checkAlert(t, a)
		}
	})
}

func FuzzParseAlertmanager(f *testing.F) {
	f.Add(readTestdataF(f, "alertmanager-firing.json"))
	f.Add(readTestdataF(f, "alertmanager-resolved.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkGrouped(t, body, alerts.ParseAlertmanager)
		checkByFingerprint(t, body, func(b []byte) ([]incidents.Alert, error) {
			return alerts.ParseAlertmanagerGrouped(b, alerts.Grouping{Identity: alerts.IdentityFingerprint})
		})
	})
}

func FuzzParseGrafana(f *testing.F) {
	for _, name := range []string{"grafana-firing.json", "grafana-nodata.json", "grafana-error.json", "grafana-test.json"} {
		f.Add(readTestdataF(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkGrouped(t, body, alerts.ParseGrafana)
		// Grafana's alerts are identified as Alertmanager's.
		checkByFingerprint(t, body, func(b []byte) ([]incidents.Alert, error) {
			return alerts.ParseGrafanaGrouped(b, alerts.Grouping{Identity: alerts.IdentityFingerprint})
		})
	})
}

// checkByFingerprint: with the fingerprint identity, the grouped rules
// hold (two entries sharing a fingerprint, one firing and one resolved,
// are one firing alert) and the source's own fingerprint is the identity
// whenever every entry gives one.
func checkByFingerprint(t *testing.T, body []byte, parse func([]byte) ([]incidents.Alert, error)) {
	checkGrouped(t, body, parse)
	got, err := parse(body)
	if err != nil {
		return
	}
	var env struct {
		Alerts []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"alerts"`
	}
	_ = json.Unmarshal(body, &env)
	given := map[string]bool{}
	for _, e := range env.Alerts {
		if strings.TrimSpace(e.Fingerprint) == "" {
			return // an entry without one is identified by its labels
		}
		given[strings.TrimSpace(e.Fingerprint)] = true
	}
	for _, a := range got {
		if !given[a.Fingerprint] {
			t.Fatalf("identity %q is not one of the source's fingerprints %v", a.Fingerprint, given)
		}
	}
}

// checkGrouped: at most one alert per entry, every firing entry kept, and
// no alert resolved while another of its identity fires.
func checkGrouped(t *testing.T, body []byte, parse func([]byte) ([]incidents.Alert, error)) {
	got, err := parse(body)
	if err != nil {
		return
	}
	var env struct {
		Alerts []struct {
			Status string `json:"status"`
		} `json:"alerts"`
	}
	if json.Unmarshal(body, &env) != nil {
		t.Fatalf("accepted a body that is not JSON: %q", body)
	}
	if len(got) > len(env.Alerts) {
		t.Fatalf("%d alerts from %d entries", len(got), len(env.Alerts))
	}
	firing := map[string]bool{}
	n := 0
	for _, a := range got {
		checkAlert(t, a)
		if a.Status == incidents.AlertFiring {
			firing[a.Fingerprint] = true
			n++
		}
	}
	want := 0
	for _, e := range env.Alerts {
		if !strings.EqualFold(strings.TrimSpace(e.Status), "resolved") {
			want++
		}
	}
	if n != want {
		t.Fatalf("%d firing alerts from %d firing entries", n, want)
	}
	for _, a := range got {
		if a.Status == incidents.AlertResolved && firing[a.Fingerprint] {
			t.Fatalf("alert %s resolved while another of its identity fires", a.Fingerprint)
		}
	}
}

func checkAlert(t *testing.T, a incidents.Alert) {
	t.Helper()
	if a.Fingerprint == "" || a.Service == "" || a.Title == "" || a.Source == "" {
		t.Fatalf("alert lacks identity, service, title or source: %+v", a)
	}
	if a.Status != incidents.AlertFiring && a.Status != incidents.AlertResolved {
		t.Fatalf("alert status %q", a.Status)
	}
	if a.Priority != 0 && !a.Priority.Valid() {
		t.Fatalf("alert priority %d", a.Priority)
	}
}

func readTestdataF(f *testing.F, name string) []byte {
	b, err := readFile(name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
