package incidents_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

var opened = time.Date(2026, 11, 24, 8, 1, 12, 0, time.UTC)

// fileIncident files alerts into one incident, as the store does with
// alerts that share a fingerprint.
func fileIncident(t *testing.T, as []incidents.Alert) *incidents.Incident {
	t.Helper()
	p := incidents.DefaultPolicy()
	inc, _ := incidents.Open(as[0], opened, p)
	for i, a := range as[1:] {
		inc.Join(a, opened.Add(time.Duration(i+1)*7*time.Second), p)
	}
	return inc
}

// paymentsIncident is the 37 error lines a log shipper sent about
// payments: 18 of them structured (JSON and logfmt) with the pod that
// wrote them, a trace or request id and a user, 19 plain text lines.
func paymentsIncident(t *testing.T) *incidents.Incident {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "payments-502.log"))
	if err != nil {
		t.Fatal(err)
	}
	as, err := alerts.ParseLog(body)
	if err != nil {
		t.Fatal(err)
	}
	inc := fileIncident(t, as)
	if inc.AlertCount != 37 || inc.Service != "payments" || inc.Operation != "charging card" {
		t.Fatalf("the log filed %d alerts of %q / %q", inc.AlertCount, inc.Service, inc.Operation)
	}
	return inc
}

func texts(b incidents.LabelBreakdown) []string {
	var out []string
	for _, f := range b.Findings {
		out = append(out, f.Text)
	}
	return out
}

func hidden(b incidents.LabelBreakdown) map[string]string {
	out := map[string]string{}
	for _, h := range b.Hidden {
		out[h.Label] = h.Why
	}
	return out
}

// TestBreakdownSaysHowManyAlertsCarryALabel: 18 of 37 alerts carry
// pod_id, all from one pod. The breakdown said "pod_id (18)", and the
// post-mortem "×18 (100%)": a share of the alerts that carry it, read as a
// share of the incident.
func TestBreakdownSaysHowManyAlertsCarryALabel(t *testing.T) {
	b := incidents.Breakdown(paymentsIncident(t), 0)
	want := []string{"18 of 37 alerts carry pod_id; all 18 from one pod: payments-7d9f8b6c5-x2k4p"}
	if got := texts(b); !slices.Equal(got, want) {
		t.Fatalf("findings\n%q\nwant\n%q", got, want)
	}
	f := b.Findings[0]
	if f.Label != "pod_id" || f.Carried != 18 || f.Clue || len(f.Values) != 1 || f.Values[0].Count != 18 {
		t.Errorf("finding %+v", f)
	}
}

// TestBreakdownHidesLabelsThatTellNothing: a trace, request or user id
// differs on every alert; service, operation and level repeat what the
// incident already says.
func TestBreakdownHidesLabelsThatTellNothing(t *testing.T) {
	b := incidents.Breakdown(paymentsIncident(t), 0)
	want := map[string]string{
		"trace_id": "a different value on every alert", "request_id": "a different value on every alert",
		"user_id": "a different value on every alert", "service": "same as the service", "operation": "same as the operation",
		"level": "the level",
	}
	got := hidden(b)
	for name, why := range want {
		if got[name] != why {
			t.Errorf("%s hidden as %q, want %q", name, got[name], why)
		}
	}
	if len(got) != len(want) {
		t.Errorf("hidden %v, want %v", got, want)
	}
	names := make([]string, 0, len(b.Hidden))
	for _, h := range b.Hidden {
		names = append(names, h.Label)
	}
	if !slices.IsSorted(names) {
		t.Errorf("hidden labels out of order: %v", names)
	}
}

// TestBreakdownGivesTheReplicasClueAtOnce: the catalog expects 4
// replicas and every pod_id names one of them: that is the finding, and
// it comes first.
func TestBreakdownGivesTheReplicasClueAtOnce(t *testing.T) {
	inc := paymentsIncident(t)
	b := incidents.Breakdown(inc, 4)
	want := "18 of 37 alerts carry pod_id; all 18 from 1 of 4 replicas: payments-7d9f8b6c5-x2k4p"
	if len(b.Findings) == 0 || b.Findings[0].Text != want || !b.Findings[0].Clue {
		t.Fatalf("findings %+v, want first %q", b.Findings, want)
	}
	if clue, ok := inc.ReplicaClue(4); !ok || clue != want {
		t.Errorf("the thread's clue %q %v, want the breakdown's", clue, ok)
	}
	if _, ok := inc.ReplicaClue(0); ok {
		t.Error("a clue without replicas in the catalog")
	}
}

// TestBreakdownOfAnAlertmanagerGroup: the two alerts of a real
// Alertmanager notification, filed together, from two of the three pods
// the catalog expects.
func TestBreakdownOfAnAlertmanagerGroup(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("alerts", "testdata", "alertmanager-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	as, err := alerts.ParseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	inc := fileIncident(t, as)
	b := incidents.Breakdown(inc, 3)
	want := []string{
		"all 2 alerts carry pod; from 2 of 3 replicas: user-sync-7d9f8b6c5-q8z1m (1), user-sync-7d9f8b6c5-x2k4p (1)",
		"all 2 alerts carry namespace; all from one namespace: identity",
	}
	if got := texts(b); !slices.Equal(got, want) {
		t.Fatalf("findings\n%q\nwant\n%q", got, want)
	}
	h := hidden(b)
	if h["alertname"] == "" || h["severity"] != "the level" || h["service"] != "same as the service" || h["operation"] != "same as the operation" {
		t.Errorf("hidden %v", h)
	}
	// Without the catalog's word, two pods are two pods.
	if got := texts(incidents.Breakdown(inc, 0)); got[0] != "all 2 alerts carry pod; 2 pods: user-sync-7d9f8b6c5-q8z1m (1), user-sync-7d9f8b6c5-x2k4p (1)" {
		t.Errorf("without replicas: %q", got)
	}
}

// kubeAlert is a generic alert as a Kubernetes job sends it.
func kubeAlert(pod, ip string) incidents.Alert {
	return incidents.Alert{Source: "generic", Fingerprint: "payments-502", Service: "payments", Operation: "charging card",
		Title: "[payments] charging card: POST /v1/charges: 502", Severity: "critical", Status: incidents.AlertFiring,
		Labels: map[string]string{"pod": pod, "namespace": "shop", "container": "payments", "instance": ip + ":8080", "app": "payments"}}
}

// TestBreakdownNamesTheFailingReplicas: three of four replicas fail,
// most alerts from one; the instances say the same from another angle.
func TestBreakdownNamesTheFailingReplicas(t *testing.T) {
	var as []incidents.Alert
	for i, n := range []int{6, 4, 2} {
		for range n {
			as = append(as, kubeAlert(fmt.Sprintf("payments-7d9f8b6c5-%c2k4p", 'a'+i), fmt.Sprintf("10.2.3.%d", 4+i)))
		}
	}
	b := incidents.Breakdown(fileIncident(t, as), 4)
	want := []string{
		"all 12 alerts carry pod; from 3 of 4 replicas: payments-7d9f8b6c5-a2k4p (6), payments-7d9f8b6c5-b2k4p (4), payments-7d9f8b6c5-c2k4p (2)",
		"all 12 alerts carry instance; 3 instances: 10.2.3.4:8080 (6), 10.2.3.5:8080 (4), 10.2.3.6:8080 (2)",
		"all 12 alerts carry namespace; all from one namespace: shop",
	}
	if got := texts(b); !slices.Equal(got, want) {
		t.Fatalf("findings\n%q\nwant\n%q", got, want)
	}
	if h := hidden(b); h["container"] != "same as the service" || h["app"] != "same as the service" {
		t.Errorf("container and app name the service: hidden %v", h)
	}
	// Every replica failing is no clue to one of them.
	as = append(as, kubeAlert("payments-7d9f8b6c5-d2k4p", "10.2.3.7"))
	if b := incidents.Breakdown(fileIncident(t, as), 4); b.Findings[0].Clue || !strings.HasPrefix(b.Findings[0].Text, "all 13 alerts carry pod; 4 pods: ") {
		t.Errorf("4 of 4 replicas: %+v", b.Findings[0])
	}
}

// TestBreakdownIsTruthfulPastItsBounds: past MaxLabelValues pods the
// breakdown no longer knows how many there are; it says so, lists what it
// kept, and gives no replicas clue it cannot back.
func TestBreakdownIsTruthfulPastItsBounds(t *testing.T) {
	var as []incidents.Alert
	for range 15 {
		as = append(as, kubeAlert("payments-7d9f8b6c5-x2k4p", "10.2.3.4"))
	}
	for i := range 30 { // a rollout that keeps replacing pods
		as = append(as, kubeAlert(fmt.Sprintf("payments-5c6d7e8f9-%04d", i), fmt.Sprintf("10.2.4.%d", i)))
	}
	inc := fileIncident(t, as)
	b := incidents.Breakdown(inc, 30)
	f := b.Findings[0]
	if f.Label != "pod" || f.Clue || f.Values[len(f.Values)-1].Value != incidents.OtherValue {
		t.Fatalf("first finding %+v", f)
	}
	// The pods seen once are the tail: summed, not listed.
	if want := "all 45 alerts carry pod; 20+ pods: payments-7d9f8b6c5-x2k4p (15), others (30)"; f.Text != want {
		t.Fatalf("finding %q, want %q", f.Text, want)
	}
	sum := 0
	for _, v := range f.Values {
		sum += v.Count
	}
	if sum != 45 || f.Carried != 45 {
		t.Errorf("values sum to %d, carried %d: counts must add up to the alerts", sum, f.Carried)
	}
	// One alert each past the bounds is still one value per alert.
	var ids []incidents.Alert
	for i := range 40 {
		a := kubeAlert("payments-7d9f8b6c5-x2k4p", "10.2.3.4")
		a.Labels["trace_id"] = fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e%04x", i)
		ids = append(ids, a)
	}
	if h := hidden(incidents.Breakdown(fileIncident(t, ids), 0)); h["trace_id"] != "a different value on every alert" {
		t.Errorf("trace_id over 40 alerts: hidden %v", h)
	}
}

// TestBreakdownOfOneAlert: one alert has no distribution to tell, only
// where it comes from.
func TestBreakdownOfOneAlert(t *testing.T) {
	b := incidents.Breakdown(fileIncident(t, []incidents.Alert{kubeAlert("payments-7d9f8b6c5-x2k4p", "10.2.3.4")}), 4)
	want := []string{"the alert carries pod: payments-7d9f8b6c5-x2k4p", "the alert carries instance: 10.2.3.4:8080",
		"the alert carries namespace: shop"}
	if got := texts(b); !slices.Equal(got, want) {
		t.Fatalf("findings\n%q\nwant\n%q", got, want)
	}
}
