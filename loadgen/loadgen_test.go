package loadgen_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/runbot-dev/runbot/loadgen"
)

func TestRunSendsExactlyTheRequestedLoad(t *testing.T) {
	var requests, alerts atomic.Int64
	var mu sync.Mutex
	fps := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []struct {
			Fingerprint string `json:"fingerprint"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &batch); err != nil || r.URL.Path != "/api/v1/alerts/generic" {
			http.Error(w, "bad", 400)
			return
		}
		requests.Add(1)
		alerts.Add(int64(len(batch)))
		mu.Lock()
		for _, a := range batch {
			fps[a.Fingerprint] = true
		}
		mu.Unlock()
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: srv.URL, Clients: 8, Batch: 5, Requests: 300, Fingerprints: 40})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 300 || res.Alerts != 1500 || requests.Load() != 300 || alerts.Load() != 1500 || res.Errors != 0 {
		t.Fatalf("result %+v; server saw %d requests, %d alerts", res, requests.Load(), alerts.Load())
	}
	if len(fps) != 40 {
		t.Fatalf("%d fingerprints, want 40", len(fps))
	}
}

func TestRunCountsFailures(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "no", 503)
		}
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: srv.URL, Clients: 1, Requests: 10})
	if err == nil || res.Errors != 5 || res.Alerts != 5 {
		t.Fatalf("result %+v, error %v: want 5 failures reported", res, err)
	}
}
