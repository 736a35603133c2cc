package loadgen_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents/alerts"
	"github.com/runbot-dev/runbot/loadgen"
)

// The two shapes carry the same alerts: n bodies are n incidents to
// runbot and n label sets to Alertmanager, and another set is n more.
func TestAlertmanagerShapesAreDistinctFingerprints(t *testing.T) {
	const n = 1000
	incidents, labelSets := map[string]bool{}, map[string]bool{}
	for _, set := range []string{"", "burst-"} {
		hooks, api := loadgen.AlertmanagerWebhookBodies(set, n), loadgen.AlertmanagerAPIBodies(set, n)
		for i := range n {
			b, err := alerts.ParseBatch(alerts.SourceAlertmanager, hooks[i], alerts.BatchLimits{})
			if err != nil || len(b.Alerts) != 1 || b.Sent != 1 {
				t.Fatalf("webhook body %d of set %q: %v, %+v\n%s", i, set, err, b, hooks[i])
			}
			incidents[b.Alerts[0].Fingerprint] = true
			var posted []struct {
				Labels   map[string]string `json:"labels"`
				StartsAt time.Time         `json:"startsAt"`
			}
			if err := json.Unmarshal(api[i], &posted); err != nil || len(posted) != 1 || posted[0].StartsAt.IsZero() {
				t.Fatalf("API body %d of set %q: %v\n%s", i, set, err, api[i])
			}
			key, _ := json.Marshal(posted[0].Labels) // sorted keys: the label set
			labelSets[string(key)] = true
			if !maps.Equal(b.Alerts[0].Labels, posted[0].Labels) {
				t.Fatalf("body %d of set %q: the webhook and the API carry different labels:\n%s\n%s", i, set, hooks[i], api[i])
			}
		}
	}
	if len(incidents) != 2*n || len(labelSets) != 2*n {
		t.Fatalf("%d incidents and %d label sets in %d alerts: want every alert its own", len(incidents), len(labelSets), 2*n)
	}
}

// Compare sends the warm-up's alerts once each, repeats them, then sends
// as many alerts none has seen, to the target's path in its shape.
func TestCompareRunsThePhases(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var wrongPath int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != loadgen.AlertmanagerAPIPath {
			wrongPath++
		}
		seen[string(b)]++
	}))
	defer srv.Close()
	const fps, burst = 40, 25
	ph, err := loadgen.Compare(context.Background(), loadgen.Plan{Clients: 4, Fingerprints: fps, Steady: 200 * time.Millisecond, Burst: burst},
		loadgen.Target{Name: "am", URL: srv.URL, Path: loadgen.AlertmanagerAPIPath, Bodies: loadgen.AlertmanagerAPIBodies})
	if err != nil {
		t.Fatal(err)
	}
	if ph.Warmup.Requests != fps || ph.Burst.Requests != burst || ph.Steady.Requests == 0 || ph.Steady.Errors != 0 || wrongPath != 0 {
		t.Fatalf("phases %+v; %d requests to another path", ph, wrongPath)
	}
	known, fresh := loadgen.AlertmanagerAPIBodies("", fps), loadgen.AlertmanagerAPIBodies("burst-", burst)
	total := 0
	for _, b := range known {
		if seen[string(b)] < 1 {
			t.Fatalf("alert never sent: %s", b)
		}
		total += seen[string(b)]
	}
	for _, b := range fresh {
		if seen[string(b)] != 1 {
			t.Fatalf("burst alert sent %d times, want once: %s", seen[string(b)], b)
		}
	}
	// Requests the steady phase's deadline cut (one per client at most)
	// reached the server without being counted.
	if counted := ph.Warmup.Requests + ph.Steady.Requests; total < counted || total > counted+4 || len(seen) != fps+burst {
		t.Fatalf("%d requests of known alerts, %d distinct bodies; phases %+v", total, len(seen), ph)
	}
}

func TestCompareStaysOnLoopback(t *testing.T) {
	_, err := loadgen.Compare(context.Background(), loadgen.Plan{Clients: 1, Fingerprints: 1, Steady: time.Millisecond, Burst: 1},
		loadgen.Target{Name: "far", URL: "http://192.0.2.1:9093", Bodies: loadgen.AlertmanagerAPIBodies})
	if err == nil || !strings.Contains(err.Error(), "not on loopback") {
		t.Fatalf("a target beyond loopback: %v", err)
	}
}

// CompareAll warms every target up, each settling before the next,
// takes the steady repeats in slices by turns, sums each target's slices
// up, then measures each burst and says when each is done.
func TestCompareAllTakesTurns(t *testing.T) {
	var mu sync.Mutex
	var log []string // what happened, a server's requests in a row once
	note := func(what string) {
		mu.Lock()
		defer mu.Unlock()
		if len(log) == 0 || log[len(log)-1] != what {
			log = append(log, what)
		}
	}
	serve := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			note(name)
		}))
	}
	a, b := serve("a"), serve("b")
	defer a.Close()
	defer b.Close()
	target := func(name, url string) loadgen.Target {
		return loadgen.Target{Name: name, URL: url, Path: loadgen.AlertmanagerAPIPath, Bodies: loadgen.AlertmanagerAPIBodies,
			Settle: func(context.Context) error { note("settle " + name); return nil },
			Done:   func() { note("done " + name) }}
	}
	out, err := loadgen.CompareAll(context.Background(), loadgen.Plan{Clients: 2, Fingerprints: 10, Steady: 300 * time.Millisecond, Burst: 5, Slices: 3},
		[]loadgen.Target{target("a", a.URL), target("b", b.URL)})
	if err != nil {
		t.Fatal(err)
	}
	// Warm-ups, each settled before the next; six slices by turns (a b,
	// b a, a b); the bursts, each server done after its own. Requests a
	// slice's end cut may reach their server after the next slice began:
	// the turns are counted, not matched.
	mu.Lock()
	defer mu.Unlock()
	at := func(what string) int { return slices.Index(log, what) }
	turns := 0
	for _, e := range log {
		if e == "a" || e == "b" {
			turns++
		}
	}
	if at("settle a") != 1 || at("b") != 2 || at("settle b") != 3 || turns < 8 ||
		log[len(log)-1] != "done b" || log[len(log)-2] != "b" || at("done a") != len(log)-3 {
		t.Fatalf("%v: want a's warm-up settled before b's, the steady slices by turns, then a's burst and b's", log)
	}
	for _, ph := range out {
		s := ph.Steady
		if ph.Warmup.Requests != 10 || ph.Burst.Requests != 5 || s.Requests == 0 || len(s.Latencies) != s.Requests ||
			s.Elapsed < 250*time.Millisecond || s.P50 > s.P99 || s.P99 > s.Max {
			t.Fatalf("%s: %+v", ph.Target, ph)
		}
	}
}

// A target of several replicas gets the load round-robin: each replica
// the same share, of every phase.
func TestCompareSpreadsOverReplicas(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{} // requests by replica
	var urls []string
	for _, name := range []string{"a", "b", "c"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			defer mu.Unlock()
			got[name]++
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	ph, err := loadgen.Compare(context.Background(), loadgen.Plan{Clients: 3, Fingerprints: 30, Steady: 150 * time.Millisecond, Burst: 30},
		loadgen.Target{Name: "x3", URLs: urls, Path: loadgen.AlertmanagerPath, Bodies: loadgen.AlertmanagerWebhookBodies})
	if err != nil {
		t.Fatal(err)
	}
	total := ph.Warmup.Requests + ph.Steady.Requests + ph.Burst.Requests
	for _, name := range []string{"a", "b", "c"} {
		// Round-robin by request number: shares differ by at most one per phase.
		if n := got[name]; n < total/3-3 || n > total/3+3 {
			t.Errorf("replica %s got %d of %d requests: %v", name, n, total, got)
		}
	}
}

func TestCompareReplicasStayOnLoopback(t *testing.T) {
	_, err := loadgen.Compare(context.Background(), loadgen.Plan{Clients: 1, Fingerprints: 1, Steady: time.Millisecond, Burst: 1},
		loadgen.Target{Name: "far", URLs: []string{"http://127.0.0.1:9", "http://192.0.2.1:9093"}, Bodies: loadgen.AlertmanagerAPIBodies})
	if err == nil || !strings.Contains(err.Error(), "not on loopback") {
		t.Fatalf("a replica beyond loopback: %v", err)
	}
}
