package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
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
	Name string
	URL  string // base URL, on loopback
	// URLs, when set, replace URL: replicas of one runbot, sent the
	// load round-robin (Config.URLs).
	URLs  []string
	Path  string // where alerts are posted
	Token string
	// Bodies builds alerts 0..n-1 of a set, one per request, in the
	// target's shape.
	Bodies func(set string, n int) [][]byte
	// Settle, when set, is waited for after the warm-up: the server
	// catching up with the work the warm-up left it (runbot's console
	// cards), which would otherwise be done during another's steady slice.
	Settle func(ctx context.Context) error
	// Done, when set, is called once the target's burst is measured: its
	// server may stop, and leave the others' bursts alone.
	Done func()
}

// Plan is what the comparison sends to every target, in three phases: a
// warm-up that opens Fingerprints alerts (each sent once), steady repeats
// of those for Steady, then a burst of Burst alerts none has seen.
type Plan struct {
	Clients      int
	Fingerprints int
	Steady       time.Duration
	Burst        int
	// Slices cuts each target's steady repeats into this many slices,
	// taken in turn with the other targets' (default 1): on a machine
	// whose other load comes and goes, every target then meets it alike.
	Slices int
	// DuringSteady, when set, runs beside the steady phases, which take
	// about Steady times the number of targets (a profile taken from a
	// target), and is waited for before the bursts.
	DuringSteady func(ctx context.Context, t Target) error
}

// Phases are what one target measured.
type Phases struct {
	Target                string
	Warmup, Steady, Burst Result
}

// Compare drives one target through the plan's phases (CompareAll).
func Compare(ctx context.Context, plan Plan, t Target) (Phases, error) {
	out, err := CompareAll(ctx, plan, []Target{t})
	if len(out) == 0 {
		return Phases{Target: t.Name}, err
	}
	return out[0], err
}

// CompareAll drives targets through the plan's phases: every warm-up
// (each target settling before the next begins), then the steady repeats
// in slices taken in turn, then every burst.
// Targets must be on loopback: the comparison measures this host, not a
// network.
func CompareAll(ctx context.Context, plan Plan, targets []Target) ([]Phases, error) {
	if plan.Clients <= 0 || plan.Fingerprints <= 0 || plan.Steady <= 0 || plan.Burst <= 0 {
		return nil, fmt.Errorf("comparing: the plan needs clients, fingerprints, a steady duration and a burst (%+v)", plan)
	}
	slices := max(plan.Slices, 1)
	out := make([]Phases, len(targets))
	cfgs := make([]Config, len(targets))
	for i, t := range targets {
		for _, u := range append([]string{t.URL}, t.URLs...) {
			if u == "" && len(t.URLs) > 0 {
				continue
			}
			if err := checkLoopback(u); err != nil {
				return nil, err
			}
		}
		out[i].Target = t.Name
		cfgs[i] = Config{URL: t.URL, URLs: t.URLs, Token: t.Token, Clients: plan.Clients, Path: t.Path, Bodies: t.Bodies("", plan.Fingerprints)}
	}
	run := func(t Target, phase string, c Config) (Result, error) {
		r, err := Run(ctx, c)
		if err != nil {
			err = fmt.Errorf("%s, %s: %w", t.Name, phase, err)
		}
		return r, err
	}

	for i, t := range targets {
		warm := cfgs[i]
		warm.Requests = len(warm.Bodies)
		var err error
		if out[i].Warmup, err = run(t, "warm-up", warm); err != nil {
			return out, err
		}
		// Settled before the next warm-up, which its work would slow.
		if t.Settle != nil {
			if err := t.Settle(ctx); err != nil {
				return out, fmt.Errorf("%s, settling after the warm-up: %w", t.Name, err)
			}
		}
	}

	side := make(chan error, len(targets))
	sides := 0
	if plan.DuringSteady != nil {
		for _, t := range targets {
			sides++
			go func() {
				if err := plan.DuringSteady(ctx, t); err != nil {
					side <- fmt.Errorf("%s, beside the steady repeats: %w", t.Name, err)
					return
				}
				side <- nil
			}()
		}
	}
	steady := make([][]Result, len(targets))
	var err error
	for s := range slices {
		for k := range targets {
			i := (s + k) % len(targets) // each slice starts with another target
			c := cfgs[i]
			c.Duration = plan.Steady / time.Duration(slices)
			var r Result
			if r, err = run(targets[i], "steady repeats", c); err != nil {
				break
			}
			steady[i] = append(steady[i], r)
		}
		if err != nil {
			break
		}
	}
	for range sides {
		if sideErr := <-side; sideErr != nil && err == nil {
			err = sideErr
		}
	}
	if err != nil {
		return out, err
	}
	for i := range targets {
		out[i].Steady = mergeResults(steady[i])
	}

	for i, t := range targets {
		burst := cfgs[i]
		burst.Bodies = t.Bodies("burst-", plan.Burst)
		burst.Requests = plan.Burst
		out[i].Burst, err = run(t, "burst", burst)
		if t.Done != nil {
			t.Done()
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// mergeResults sums slices of one load: counts and time added, latencies
// taken together.
func mergeResults(rs []Result) Result {
	var m Result
	for _, r := range rs {
		m.Requests += r.Requests
		m.Alerts += r.Alerts
		m.Errors += r.Errors
		m.Elapsed += r.Elapsed
		m.Latencies = append(m.Latencies, r.Latencies...)
	}
	slices.Sort(m.Latencies)
	if n := len(m.Latencies); n > 0 {
		m.P50, m.P99, m.Max = m.Latencies[n/2], m.Latencies[n*99/100], m.Latencies[n-1]
	}
	return m
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
