package alerts_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// expectedIncident is an incident as a RUN person would have opened it by hand
// from what Alertmanager sent.
type expectedIncident struct {
	service  string
	title    string
	priority incidents.Priority
	pods     []string // the label breakdown's pods
	alerts   int
	resolved bool   // resolved at source
	timeline string // a timeline entry that says this, "" for none
}

// TestAlertmanagerCorpus files real Alertmanager notifications, in the
// order Alertmanager sends them, into a real store and checks the
// incidents they make.
func TestAlertmanagerCorpus(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		want  []expectedIncident
	}{
		{"a rule on two pods of one service is one incident", []string{"alertmanager-firing.json"}, []expectedIncident{{
			service: "user-sync-service", title: "[user-sync-service] creating user: POST /api/users: 403", priority: incidents.P2,
			pods: []string{"user-sync-7d9f8b6c5-q8z1m", "user-sync-7d9f8b6c5-x2k4p"}, alerts: 2,
		}}},
		{"crash looping in two workloads is two incidents, named after the workload", []string{"kubernetes/crashlooping-firing.json"}, []expectedIncident{
			{service: "user-sync", title: "Pod is crash looping.", priority: incidents.P3,
				pods: []string{"user-sync-7d9f8b6c5-q8z1m", "user-sync-7d9f8b6c5-x2k4p"}, alerts: 2,
				timeline: `Pod identity/user-sync-7d9f8b6c5-q8z1m (user-sync) is in waiting state (reason: "CrashLoopBackOff").`},
			{service: "ledger", title: "Pod is crash looping.", priority: incidents.P3, pods: []string{"ledger-5c8d7f9b4-m3n8q"}, alerts: 1},
		}},
		{"one pod recovering while the other crashes resolves nothing", []string{"kubernetes/crashlooping-firing.json", "kubernetes/crashlooping-one-resolved.json"}, []expectedIncident{
			{service: "user-sync", title: "Pod is crash looping.", priority: incidents.P3,
				pods: []string{"user-sync-7d9f8b6c5-q8z1m", "user-sync-7d9f8b6c5-x2k4p"}, alerts: 3},
			{service: "ledger", title: "Pod is crash looping.", priority: incidents.P3, pods: []string{"ledger-5c8d7f9b4-m3n8q"}, alerts: 2},
		}},
		{"every pod recovered resolves at source", []string{"kubernetes/crashlooping-firing.json", "kubernetes/crashlooping-one-resolved.json", "kubernetes/crashlooping-resolved.json"}, []expectedIncident{
			{service: "user-sync", title: "Pod is crash looping.", priority: incidents.P3,
				pods: []string{"user-sync-7d9f8b6c5-q8z1m", "user-sync-7d9f8b6c5-x2k4p"}, alerts: 3, resolved: true},
			{service: "ledger", title: "Pod is crash looping.", priority: incidents.P3, pods: []string{"ledger-5c8d7f9b4-m3n8q"}, alerts: 2, resolved: true},
		}},
		{"pods not ready, without a workload label, are their deployment's", []string{"kubernetes/podnotready-firing.json"}, []expectedIncident{{
			service: "user-sync", title: "Pod has been in a non-ready state for more than 15 minutes.", priority: incidents.P3,
			pods: []string{"user-sync-7d9f8b6c5-q8z1m", "user-sync-7d9f8b6c5-x2k4p"}, alerts: 2,
		}}},
		{"a deployment's replicas are the deployment's, not kube-state-metrics's", []string{"kubernetes/replicasmismatch-firing.json"}, []expectedIncident{{
			service: "user-sync", title: "Deployment has not matched the expected number of replicas.", priority: incidents.P3,
			pods: []string{"kube-prometheus-stack-kube-state-metrics-6d5f9c7b8-9xk2p"}, alerts: 1,
			timeline: "Deployment identity/user-sync has not matched the expected number of replicas for longer than 15 minutes.",
		}}},
		{"a truncated group says how many alerts it left out", []string{"kubernetes/crashlooping-truncated.json"}, []expectedIncident{{
			service: "checkout", title: "Pod is crash looping.", priority: incidents.P3, alerts: 50,
			timeline: "Alertmanager left out 1,750 alerts of this group",
		}}},
		{"severity page is urgent", []string{"severity-page.json"}, []expectedIncident{{
			service: "myjob", title: "High request latency", priority: incidents.P2, alerts: 1,
		}}},
		{"ids in a path are one failure, the status code stays", []string{"path-ids.json"}, []expectedIncident{{
			service: "user-sync-service", title: "[user-sync-service] creating user: POST /api/users/{id}?org={id}: 403", priority: incidents.P2,
			pods: []string{"user-sync-7d9f8b6c5-q8z1m", "user-sync-7d9f8b6c5-x2k4p"}, alerts: 2,
		}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc := openCorpusStore(t)
			for _, f := range c.files {
				as, err := alerts.ParseAlertmanager(readTestdata(t, f))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if _, err := svc.Ingest(context.Background(), as); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			list, err := svc.FindIncidents(context.Background(), incidents.IncidentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != len(c.want) {
				t.Fatalf("%d incidents, want %d: %s", len(list), len(c.want), describeCorpus(list))
			}
			slices.SortFunc(list, func(a, b *incidents.Incident) int { return int(a.ID - b.ID) })
			for i, w := range c.want {
				inc, err := svc.FindIncident(context.Background(), list[i].ID)
				if err != nil {
					t.Fatal(err)
				}
				checkCorpusIncident(t, inc, w)
			}
		})
	}
}

func checkCorpusIncident(t *testing.T, inc *incidents.Incident, w expectedIncident) {
	t.Helper()
	if inc.Service != w.service || inc.Title != w.title || inc.Priority != w.priority || inc.AlertCount != w.alerts || inc.SourceResolved != w.resolved {
		t.Errorf("incident %s, want service %s, title %q, %s, %d alerts, resolved at source %v",
			describeIncident(inc), w.service, w.title, w.priority, w.alerts, w.resolved)
	}
	var pods []string
	for p := range inc.Labels.Counts()["pod"] {
		pods = append(pods, p)
	}
	slices.Sort(pods)
	if w.pods != nil && !slices.Equal(pods, w.pods) {
		t.Errorf("incident %d's breakdown names pods %v, want %v", inc.ID, pods, w.pods)
	}
	if w.timeline != "" && !slices.ContainsFunc(inc.Timeline, func(e incidents.Event) bool { return strings.Contains(e.Text, w.timeline) }) {
		t.Errorf("incident %d's timeline does not say %q: %v", inc.ID, w.timeline, inc.Timeline)
	}
}

func openCorpusStore(t *testing.T) *sqlite.IncidentService {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	at := time.Date(2026, 11, 24, 23, 10, 0, 0, time.UTC)
	svc.Now = func() time.Time { return at }
	return svc
}

func describeIncident(inc *incidents.Incident) string {
	return fmt.Sprintf("#%d %s %s %q alerts=%d source_resolved=%v", inc.ID, inc.Service, inc.Priority, inc.Title, inc.AlertCount, inc.SourceResolved)
}

func describeCorpus(list []*incidents.Incident) string {
	var parts []string
	for _, inc := range list {
		parts = append(parts, describeIncident(inc))
	}
	return strings.Join(parts, "; ")
}

// Alertmanager repeats a truncated group at every group_interval: the
// timeline tells a count once, and again only when it changes.
func TestTruncationToldOncePerCount(t *testing.T) {
	svc := openCorpusStore(t)
	body := string(readTestdata(t, "kubernetes/crashlooping-truncated.json"))
	for _, b := range []string{body, body, strings.Replace(body, `"truncatedAlerts": 1750`, `"truncatedAlerts": 1800`, 1)} {
		as, err := alerts.ParseAlertmanager([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Ingest(context.Background(), as); err != nil {
			t.Fatal(err)
		}
	}
	inc, err := svc.FindIncident(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	for _, e := range inc.Timeline {
		if strings.Contains(e.Text, "left out") {
			told = append(told, e.Text)
		}
	}
	if !slices.Equal(told, []string{"Alertmanager left out 1,750 alerts of this group", "Alertmanager left out 1,800 alerts of this group"}) {
		t.Fatalf("timeline tells %q", told)
	}
}
