package main

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/runbot-dev/runbot/incidents"
)

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, b *runningBot) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(b.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// metric finds the sample of a family with the given labels.
func metric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.Metric {
		ok := true
		for _, l := range m.Label {
			if v, want := labels[l.GetName()], l.GetValue(); v != want {
				ok = false
			}
		}
		if ok && len(m.Label) == len(labels) {
			return m
		}
	}
	t.Fatalf("no %s%v among %d samples", name, labels, len(f.Metric))
	return nil
}

// TestMetricsMatchTheScenario scripts incidents and checks /metrics,
// parsed by Prometheus' parser, against what the API says happened.
func TestMetricsMatchTheScenario(t *testing.T) {
	cfg := engineConfig(t)
	cfg.Policy.SLA[incidents.P4] = incidents.Target{Ack: time.Millisecond, Restore: time.Hour}
	b := startBot(t, cfg)
	a := postAlert(t, b, `{"service":"checkout","summary":"payments failing","severity":"critical"}`)
	s := postAlert(t, b, `{"service":"search","summary":"index lagging"}`)
	c := postAlert(t, b, `{"service":"billing","summary":"invoices late"}`)
	postAlert(t, b, `{"service":"checkout","summary":"payments failing","severity":"critical"}`) // a repeat
	time.Sleep(5 * time.Millisecond)
	for _, cmd := range []string{fmt.Sprintf("/ack %d", a), fmt.Sprintf("/ack %d", s), fmt.Sprintf("/mitigate %d", a), fmt.Sprintf("/prio %d P4 not urgent", c)} {
		if code, out := command(t, b, "alice", cmd); code != 200 {
			t.Fatalf("%s: %d %s", cmd, code, out.Reply)
		}
	}
	ia, is := getIncident(t, b, a), getIncident(t, b, s)
	var acked struct {
		AcknowledgedAt time.Time `json:"acknowledged_at"`
		MitigatedAt    time.Time `json:"mitigated_at"`
	}
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, a), "", "", &acked)
	ttaA, trsA := acked.AcknowledgedAt.Sub(ia.OpenedAt), acked.MitigatedAt.Sub(ia.OpenedAt)
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, s), "", "", &acked)
	ttaS := acked.AcknowledgedAt.Sub(is.OpenedAt)

	fams := scrape(t, b)
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	h := metric(t, fams, "runbot_incident_tta_seconds", map[string]string{"priority": "P2", "service": "checkout"}).GetHistogram()
	near("TTA count P2 checkout", float64(h.GetSampleCount()), 1)
	near("TTA sum P2 checkout", h.GetSampleSum(), ttaA.Seconds())
	if b0 := h.GetBucket()[0]; b0.GetUpperBound() != 60 || b0.GetCumulativeCount() != 1 {
		t.Errorf("a TTA of %s belongs in the 60s bucket: %v", ttaA, b0)
	}
	h = metric(t, fams, "runbot_incident_tta_seconds", map[string]string{"priority": "P3", "service": "search"}).GetHistogram()
	near("TTA sum P3 search", h.GetSampleSum(), ttaS.Seconds())
	h = metric(t, fams, "runbot_incident_trs_seconds", map[string]string{"priority": "P2", "service": "checkout"}).GetHistogram()
	near("TRS sum P2 checkout", h.GetSampleSum(), trsA.Seconds())
	if f := fams["runbot_incident_trs_seconds"]; len(f.Metric) != 1 {
		t.Errorf("TRS for %d series, want only the mitigated incident", len(f.Metric))
	}

	for _, tc := range []struct {
		priority, state string
		want            float64
	}{{"P2", "mitigated", 1}, {"P3", "acknowledged", 1}, {"P4", "open", 1}, {"P2", "open", 0}, {"P1", "open", 0}} {
		near("active "+tc.priority+" "+tc.state,
			metric(t, fams, "runbot_incidents_active", map[string]string{"priority": tc.priority, "state": tc.state}).GetGauge().GetValue(), tc.want)
	}
	near("breaches P4", metric(t, fams, "runbot_sla_breaches_total", map[string]string{"priority": "P4"}).GetCounter().GetValue(), 1)
	near("breaches P2", metric(t, fams, "runbot_sla_breaches_total", map[string]string{"priority": "P2"}).GetCounter().GetValue(), 0)
	near("alerts received", metric(t, fams, "runbot_alerts_received_total", map[string]string{"source": "generic"}).GetCounter().GetValue(), 4)
	metric(t, fams, "runbot_outbox_pending", map[string]string{})
	eventually(t, 10*time.Second, "the outbox drained", func() (bool, string) {
		f := scrape(t, b)
		n := metric(t, f, "runbot_outbox_pending", map[string]string{}).GetGauge().GetValue()
		age := metric(t, f, "runbot_outbox_oldest_seconds", map[string]string{}).GetGauge().GetValue()
		return n == 0 && age == 0, fmt.Sprint(n, " waiting, oldest ", age, "s")
	})
	if !strings.Contains(describe(fams["runbot_incident_tta_seconds"].GetHelp()), "acknowledge") {
		t.Errorf("help text: %q", fams["runbot_incident_tta_seconds"].GetHelp())
	}
}
