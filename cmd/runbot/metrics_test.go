package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
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

// linkingChat is a recording chat that links to its messages.
type linkingChat struct{ *bottest.Recorder }

func (linkingChat) Permalink(_ context.Context, channel, ref string) (string, error) {
	return "https://chat.example/" + channel + "/" + ref, nil
}

// TestMetricsMatchTheScenario scripts incidents and asks and checks
// /metrics, parsed by Prometheus' parser, against what the API and the
// store say happened.
func TestMetricsMatchTheScenario(t *testing.T) {
	cfg := engineConfig(t)
	cfg.Policy.SLA[incidents.P4] = incidents.Target{Ack: time.Millisecond, Restore: time.Hour}
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	cfg.RunWeek.Triage.Channels = []string{"team-payments", "team-db"}
	chat := linkingChat{bottest.NewRecorder("chat", "incidents")}
	b := startBot(t, cfg, chat)
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
	// Asks, written beside the running bot with a clock of the test's own
	// so that their response times are known to the millisecond: 61
	// minutes ago (clear of the one-hour bucket's bound) six questions came
	// in; bob answered one after 90s in its thread.
	ctx := context.Background()
	db, err := sqlite.Open(sqlite.Beside(ctx), cfg.DB, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	asks := sqlite.NewAsks(db)
	asked := time.Now().Add(-61 * time.Minute).UTC().Truncate(time.Millisecond)
	refs := map[int64]string{}
	for i, channel := range []string{"team-payments", "team-payments", "team-db", "team-db", "team-payments", "team-payments"} {
		text := fmt.Sprintf("question %d", i+1)
		ref, err := chat.Post(ctx, channel, bot.Message{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		refs[int64(i+1)] = ref
		if err := asks.Record(ctx, incidents.Ask{Platform: "chat", Channel: channel, Ref: ref, From: "dave", Text: text,
			AskedAt: asked, DueAt: asked.Add(48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	asks.Now = func() time.Time { return asked.Add(90 * time.Second) }
	if ok, err := asks.Answer(ctx, "chat", refs[1], "bob", "reply"); !ok || err != nil {
		t.Fatalf("answering ask 1: %v %v", ok, err)
	}
	for _, cmd := range []string{"/triage relay 2 #team-db", "/triage incident 3 billing P5"} {
		if code, out := command(t, b, "alice", cmd); code != 200 {
			t.Fatalf("%s: %d %s", cmd, code, out.Reply)
		}
	}
	relayed, err := asks.Find(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	tracked, err := asks.Find(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if relayed.How != "relayed" || tracked.How != "incident" {
		t.Fatalf("asks 2 and 3 answered %q and %q, want relayed and incident", relayed.How, tracked.How)
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
	}{{"P2", "mitigated", 1}, {"P3", "acknowledged", 1}, {"P4", "open", 1}, {"P2", "open", 0}, {"P1", "open", 0}, {"P5", "open", 1}} {
		near("active "+tc.priority+" "+tc.state,
			metric(t, fams, "runbot_incidents_active", map[string]string{"priority": tc.priority, "state": tc.state}).GetGauge().GetValue(), tc.want)
	}
	near("breaches P4", metric(t, fams, "runbot_sla_breaches_total", map[string]string{"priority": "P4"}).GetCounter().GetValue(), 1)
	near("breaches P2", metric(t, fams, "runbot_sla_breaches_total", map[string]string{"priority": "P2"}).GetCounter().GetValue(), 0)
	near("alerts received", metric(t, fams, "runbot_alerts_received_total", map[string]string{"source": "generic"}).GetCounter().GetValue(), 4)

	near("asks open in team-payments", metric(t, fams, "runbot_asks_open", map[string]string{"channel": "team-payments"}).GetGauge().GetValue(), 2)
	near("asks open in team-db", metric(t, fams, "runbot_asks_open", map[string]string{"channel": "team-db"}).GetGauge().GetValue(), 1)
	if f := fams["runbot_ask_response_seconds"]; len(f.GetMetric()) != 3 {
		t.Errorf("ask response times for %d series, want reply, relayed and incident", len(f.GetMetric()))
	}
	// upTo reads a histogram's cumulative count at a bound.
	upTo := func(h *dto.Histogram, bound float64) float64 {
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == bound {
				return float64(b.GetCumulativeCount())
			}
		}
		t.Errorf("no %vs bucket in %v", bound, h.GetBucket())
		return -1
	}
	h = metric(t, fams, "runbot_ask_response_seconds", map[string]string{"channel": "team-payments", "how": "reply"}).GetHistogram()
	near("ask replies in team-payments", float64(h.GetSampleCount()), 1)
	near("ask reply time in team-payments", h.GetSampleSum(), 90)
	near("ask replies within 60s", upTo(h, 60), 0)
	near("ask replies within 300s", upTo(h, 300), 1)
	h = metric(t, fams, "runbot_ask_response_seconds", map[string]string{"channel": "team-payments", "how": "relayed"}).GetHistogram()
	near("relayed ask time", h.GetSampleSum(), relayed.ResponseTime().Seconds())
	if rt := relayed.ResponseTime(); rt < 61*time.Minute || rt > 62*time.Minute {
		t.Errorf("relayed after %s, want the 61 minutes since it was asked", rt)
	}
	near("relayed asks within 3600s", upTo(h, 3600), 0)
	near("relayed asks within 7200s", upTo(h, 7200), 1)
	h = metric(t, fams, "runbot_ask_response_seconds", map[string]string{"channel": "team-db", "how": "incident"}).GetHistogram()
	near("asks tracked as incidents", float64(h.GetSampleCount()), 1)
	near("tracked ask time", h.GetSampleSum(), tracked.ResponseTime().Seconds())

	metric(t, fams, "runbot_outbox_pending", map[string]string{})
	eventually(t, 10*time.Second, "the outbox drained", func() (bool, string) {
		f := scrape(t, b)
		n := metric(t, f, "runbot_outbox_pending", map[string]string{}).GetGauge().GetValue()
		age := metric(t, f, "runbot_outbox_oldest_seconds", map[string]string{}).GetGauge().GetValue()
		return n == 0 && age == 0, fmt.Sprint(n, " waiting, oldest ", age, "s")
	})
	// The relay reached the other team with its link back, made at delivery.
	want := "🔀 relayed from #team-payments by alice: dave asks: question 2 — https://chat.example/team-payments/" + refs[2]
	found := false
	for _, m := range chat.Messages() {
		found = found || m.Channel == "team-db" && m.Root == "" && m.Message.Text == want
	}
	if !found {
		t.Errorf("no %q in team-db among %v", want, chat.Messages())
	}
	if !strings.Contains(describe(fams["runbot_incident_tta_seconds"].GetHelp()), "acknowledge") {
		t.Errorf("help text: %q", fams["runbot_incident_tta_seconds"].GetHelp())
	}
}
