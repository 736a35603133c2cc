package alerts_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// expand turns a batch back into the alerts sent, one per line or entry
// (as far as Of tells the order).
func expand(b *alerts.Batch) []incidents.Alert {
	out := make([]incidents.Alert, len(b.Of))
	for i, g := range b.Of {
		out[i] = b.Alerts[g]
	}
	return out
}

func TestBatchCollapsesRepeatsOfOneFailure(t *testing.T) {
	body := strings.Join([]string{
		"[user-sync-service] creating user: POST /api/users/48213: 403",
		"[billing] exporting invoices: stalled",
		"[user-sync-service] creating user: POST /api/users/90211: 403", // near-identical: same fingerprint
		"[user-sync-service] creating user: POST /api/users/48213: 403", // identical
		"",
		"[user-sync-service] creating user: POST /api/users/48213: 500", // another failure
	}, "\n")
	b, err := alerts.ParseBatch(alerts.SourceLog, []byte(body), alerts.BatchLimits{KeepOrder: 10})
	if err != nil {
		t.Fatal(err)
	}
	if b.Sent != 5 || len(b.Alerts) != 3 || fmt.Sprint(b.Repeats) != "[3 1 1]" || fmt.Sprint(b.Of) != "[0 1 0 0 2]" {
		t.Fatalf("sent %d, %d alerts, repeats %v, of %v", b.Sent, len(b.Alerts), b.Repeats, b.Of)
	}
	// The first of the repeats is the one kept: its payload, its title.
	if b.Alerts[0].Payload != "[user-sync-service] creating user: POST /api/users/48213: 403" {
		t.Fatalf("kept %q", b.Alerts[0].Payload)
	}
	plain, err := alerts.ParseLog([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range expand(b) {
		if a.Fingerprint != plain[i].Fingerprint {
			t.Fatalf("alert %d files under %s, ParseLog says %s", i, a.Fingerprint, plain[i].Fingerprint)
		}
	}
}

// A long run of one line is counted whole, however it ends, and its order
// is kept while the batch is small.
func TestBatchCountsALongRunOfOneLine(t *testing.T) {
	body := append(bytes.Repeat([]byte("x\n"), 10000), "x \n\r\nx\r\nx"...)
	b, err := alerts.ParseBatch(alerts.SourceLog, body, alerts.BatchLimits{KeepOrder: 100})
	if err != nil || len(b.Alerts) != 1 || b.Repeats[0] != 10003 || b.Sent != 10003 || b.Of != nil {
		t.Fatalf("%v: %d alerts, repeats %v, sent %d, order kept %v", err, len(b.Alerts), b.Repeats, b.Sent, b.Of != nil)
	}
	body = append([]byte("[a] b: c\n"), bytes.Repeat([]byte("x\n"), 70)...)
	b, err = alerts.ParseBatch(alerts.SourceLog, body, alerts.BatchLimits{KeepOrder: 100})
	if err != nil || fmt.Sprint(b.Repeats) != "[1 70]" || len(b.Of) != 71 || b.Of[70] != 1 {
		t.Fatalf("%v: repeats %v, order %v", err, b.Repeats, b.Of)
	}
}

// Labels are what the breakdown counts: the same failure from two pods is
// two alerts, kept apart, and each pod's repeats collapse.
func TestBatchKeepsAlertsWithOtherLabelsApart(t *testing.T) {
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf(`{"level":"error","msg":"[api] saving order: disk full","pod":"api-%d"}`, i%2))
	}
	b, err := alerts.ParseBatch(alerts.SourceLog, []byte(strings.Join(lines, "\n")), alerts.BatchLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Alerts) != 2 || fmt.Sprint(b.Repeats) != "[3 3]" || b.Alerts[0].Fingerprint != b.Alerts[1].Fingerprint ||
		b.Alerts[0].Labels["pod"] != "api-0" || b.Alerts[1].Labels["pod"] != "api-1" {
		t.Fatalf("%d alerts, repeats %v: %+v", len(b.Alerts), b.Repeats, b.Alerts)
	}
	if b.Of != nil {
		t.Fatalf("order kept though KeepOrder is 0: %v", b.Of)
	}
}

// Firing, resolved, firing again is a story in that order: only repeats
// with nothing else of their fingerprint between them collapse.
func TestBatchKeepsTheOrderOfFiringAndResolved(t *testing.T) {
	entry := func(status string) string {
		return fmt.Sprintf(`{"service":"api","summary":"down","fingerprint":"fp","status":%q}`, status)
	}
	body := "[" + strings.Join([]string{entry("firing"), entry("firing"), entry("resolved"), entry("resolved"), entry("firing"),
		`{"service":"db","summary":"slow"}`, entry("firing")}, ",") + "]"
	b, err := alerts.ParseBatch(alerts.SourceGeneric, []byte(body), alerts.BatchLimits{KeepOrder: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, a := range b.Alerts {
		got = append(got, fmt.Sprintf("%s %s x%d", a.Service, a.Status, b.Repeats[i]))
	}
	want := "[api firing x2 api resolved x2 api firing x2 db firing x1]"
	if fmt.Sprint(got) != want || fmt.Sprint(b.Of) != "[0 0 1 1 2 3 2]" {
		t.Fatalf("got %v of %v, want %s", got, b.Of, want)
	}
}

func TestBatchRefusesMoreDistinctAlertsThanTheLimit(t *testing.T) {
	var lines []string
	for i := range 11 {
		lines = append(lines, fmt.Sprintf("[svc-%d] op: failed", i))
	}
	// Repeats do not count against the limit: only what would be filed.
	lines = append(lines, slices.Repeat([]string{"[svc-0] op: failed"}, 1000)...)
	body := []byte(strings.Join(lines, "\n"))
	_, err := alerts.ParseBatch(alerts.SourceLog, body, alerts.BatchLimits{MaxAlerts: 10})
	var tooMany *alerts.TooManyAlertsError
	if !errors.As(err, &tooMany) || tooMany.Limit != 10 {
		t.Fatalf("error %v, want TooManyAlertsError{10}", err)
	}
	b, err := alerts.ParseBatch(alerts.SourceLog, body, alerts.BatchLimits{MaxAlerts: 11})
	if err != nil || len(b.Alerts) != 11 || b.Repeats[0] != 1001 || b.Sent != 1011 {
		t.Fatalf("limit 11: %v, %+v", err, b)
	}
}

// ParseBatch reads every source exactly as Parse does.
func TestBatchReadsEverySourceAsParse(t *testing.T) {
	for source, file := range map[string]string{
		alerts.SourceAlertmanager: "alertmanager-firing.json",
		alerts.SourceGrafana:      "grafana-firing.json",
		alerts.SourceGeneric:      "generic-batch.json",
		alerts.SourceLog:          "app.log",
	} {
		body := readTestdata(t, file)
		want, err := alerts.Parse(source, body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := alerts.ParseBatch(source, body, alerts.BatchLimits{KeepOrder: 100})
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		got := expand(b)
		if len(got) != len(want) || b.Sent != len(want) {
			t.Fatalf("%s: %d alerts (sent %d), Parse has %d", source, len(got), b.Sent, len(want))
		}
		for i := range want {
			if got[i].Fingerprint != want[i].Fingerprint || got[i].Status != want[i].Status {
				t.Errorf("%s alert %d: %s %s, Parse: %s %s", source, i, got[i].Fingerprint, got[i].Status, want[i].Fingerprint, want[i].Status)
			}
		}
	}
	for _, c := range []struct{ source, body, want string }{
		{alerts.SourceLog, "\n \n", alerts.ErrNoAlerts.Error()},
		{alerts.SourceGeneric, `[{"service":"a","summary":"ok"},{"service":"c"}]`, "alerts[1]: summary is required"},
		{alerts.SourceAlertmanager, `{"version":"4","alerts":[]}`, alerts.ErrNoAlerts.Error()},
		{"nagios", `{}`, `unknown alert source "nagios"`},
	} {
		if _, err := alerts.ParseBatch(c.source, []byte(c.body), alerts.BatchLimits{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want %q", c.source, c.body, err, c.want)
		}
	}
}

// Collapsing loses no alert: every line sent is counted once, and files
// under the fingerprint ParseLog gives it.
func FuzzParseBatchCountsEveryLine(f *testing.F) {
	f.Add(readTestdataF(f, "app.log"))
	f.Add([]byte("x\nx\n x \n[a] b: c 12345\n[a] b: c 67890\n"))
	f.Add(append(bytes.Repeat([]byte("ab\n"), 3000), "ab\r\nab\n\nab"...))
	f.Add([]byte(`{"msg":"[api] saving: disk full","pod":"a"}` + "\n" + `{"msg":"[api] saving: disk full","pod":"b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		want, werr := alerts.ParseLog(body)
		b, err := alerts.ParseBatch(alerts.SourceLog, body, alerts.BatchLimits{KeepOrder: 1 << 30})
		if (err == nil) != (werr == nil) {
			t.Fatalf("ParseBatch error %v, ParseLog error %v", err, werr)
		}
		if err != nil {
			return
		}
		sum := 0
		for _, n := range b.Repeats {
			sum += n
		}
		if b.Sent != len(want) || sum != len(want) || len(b.Of) != len(want) {
			t.Fatalf("sent %d, repeats sum to %d, order of %d; ParseLog read %d", b.Sent, sum, len(b.Of), len(want))
		}
		for i, a := range expand(b) {
			if a.Fingerprint != want[i].Fingerprint || labelsOf(a) != labelsOf(want[i]) {
				t.Fatalf("line %d files as %s %s, ParseLog says %s %s", i, a.Fingerprint, labelsOf(a), want[i].Fingerprint, labelsOf(want[i]))
			}
		}
	})
}

func labelsOf(a incidents.Alert) string { return fmt.Sprint(a.Labels) }
