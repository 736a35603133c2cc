package loadgen_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
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
