package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"
)

// One Alertmanager alert, in the two shapes the comparison sends: the
// webhook notification Alertmanager posts to runbot (version 4, a group of
// one), and the alert Prometheus posts to Alertmanager (POST /api/v2/alerts,
// a list of one). Alert i of a set fires HighErrorRate for service
// svc-(i mod 50) in namespace <set>ns-(i/50): each i is a distinct label
// set for Alertmanager and a distinct incident for runbot (one per rule,
// service and namespace), so n alerts are n fingerprints to both.
const (
	// AlertmanagerPath is where runbot takes Alertmanager's webhook.
	AlertmanagerPath = "/api/v1/alerts/alertmanager"
	// AlertmanagerAPIPath is where Alertmanager takes alerts.
	AlertmanagerAPIPath = "/api/v2/alerts"

	amStartsAt  = "2026-12-02T07:00:00Z"
	amGenerator = "http://prometheus-k8s-0:9090/graph?g0.expr=sum+by+%28app%2C+namespace%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1"
)

// amLabels and amAnnotations are alert i's label set and annotations as
// JSON objects.
func amLabels(set string, i int) string {
	return fmt.Sprintf(`{"alertname":"HighErrorRate","app":"svc-%d","namespace":"%sns-%d","pod":"svc-%d-7f9c8d6-%05x","job":"api","prometheus":"monitoring/k8s","severity":"warning"}`,
		i%50, set, i/50, i%50, i*7919%0xfffff)
}

func amAnnotations(i int) string {
	return fmt.Sprintf(`{"summary":"Error rate above 5%% on svc-%d","description":"svc-%d answers 5xx to more than 5%% of requests over 5m.","runbook_url":"https://runbooks.example/HighErrorRate"}`,
		i%50, i%50)
}

// AlertmanagerWebhookBodies are n notifications of one firing alert each,
// alerts 0..n-1 of set, as Alertmanager posts them to a webhook receiver.
func AlertmanagerWebhookBodies(set string, n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		labels := amLabels(set, i)
		bodies[i] = fmt.Appendf(nil, `{"receiver":"runbot","status":"firing","alerts":[{"status":"firing","labels":%s,"annotations":%s,`+
			`"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":%q,"fingerprint":"%016x"}],`+
			`"groupLabels":{"alertname":"HighErrorRate"},"commonLabels":%s,"commonAnnotations":%s,`+
			`"externalURL":"http://alertmanager-main-0:9093","version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0}`,
			labels, amAnnotations(i), amStartsAt, amGenerator, 0x9e3779b97f4a7c15*uint64(i+1)^uint64(len(set)), labels, amAnnotations(i))
	}
	return bodies
}

// AlertmanagerAPIBodies are the same alerts as AlertmanagerWebhookBodies,
// one per request, as Prometheus posts them to Alertmanager's API v2.
func AlertmanagerAPIBodies(set string, n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `[{"labels":%s,"annotations":%s,"startsAt":%q,"generatorURL":%q}]`,
			amLabels(set, i), amAnnotations(i), amStartsAt, amGenerator)
	}
	return bodies
}

// Target is one server the comparison drives.
type Target struct {
	Name  string
	URL   string // base URL, on loopback
	Path  string // where alerts are posted
	Token string
	// Bodies builds alerts 0..n-1 of a set, one per request, in the
	// target's shape.
	Bodies func(set string, n int) [][]byte
}

// Plan is what the comparison sends to every target, in three phases: a
// warm-up that opens Fingerprints alerts (each sent once), steady repeats
// of those for Steady, then a burst of Burst alerts none has seen.
type Plan struct {
	Clients      int
	Fingerprints int
	Steady       time.Duration
	Burst        int
	// DuringSteady, when set, runs beside the target's steady phase (a
	// profile taken from it), and is waited for before the burst.
	DuringSteady func(ctx context.Context, t Target) error
}

// Phases are what one target measured.
type Phases struct {
	Target                string
	Warmup, Steady, Burst Result
}

// Compare drives one target through the plan's phases. Targets must be on
// loopback: the comparison measures runbot's host, not a network.
func Compare(ctx context.Context, plan Plan, t Target) (Phases, error) {
	if err := checkLoopback(t.URL); err != nil {
		return Phases{}, err
	}
	if plan.Clients <= 0 || plan.Fingerprints <= 0 || plan.Steady <= 0 || plan.Burst <= 0 {
		return Phases{}, fmt.Errorf("comparing %s: the plan needs clients, fingerprints, a steady duration and a burst (%+v)", t.Name, plan)
	}
	out := Phases{Target: t.Name}
	known := t.Bodies("", plan.Fingerprints)
	cfg := Config{URL: t.URL, Token: t.Token, Clients: plan.Clients, Path: t.Path, Bodies: known}
	var err error
	run := func(phase string, r *Result, c Config) bool {
		*r, err = Run(ctx, c)
		if err != nil {
			err = fmt.Errorf("%s, %s: %w", t.Name, phase, err)
		}
		return err == nil
	}
	warm := cfg
	warm.Requests = len(known)
	if !run("warm-up", &out.Warmup, warm) {
		return out, err
	}
	steady := cfg
	steady.Duration = plan.Steady
	side := make(chan error, 1)
	if plan.DuringSteady != nil {
		go func() { side <- plan.DuringSteady(ctx, t) }()
	} else {
		side <- nil
	}
	ok := run("steady repeats", &out.Steady, steady)
	if sideErr := <-side; sideErr != nil && ok {
		return out, fmt.Errorf("%s, beside the steady repeats: %w", t.Name, sideErr)
	}
	if !ok {
		return out, err
	}
	burst := cfg
	burst.Bodies = t.Bodies("burst-", plan.Burst)
	burst.Requests = plan.Burst
	run("burst", &out.Burst, burst)
	return out, err
}

// checkLoopback refuses a target that is not on this host.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("target %q: %w", base, err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %s is not on loopback: the comparison measures this host only", base)
	}
	return nil
}
