package loadgen_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
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

// Heavy requests go beside the load, gzipped when asked, and are measured
// apart: their refusals are counted by status, not as the load's errors.
// The server's memory is read from its /metrics, start and peak.
func TestFloodIsMeasuredBesideTheLoad(t *testing.T) {
	body := loadgen.LogFlood(64 << 10)
	var heavy, wrong atomic.Int64
	var rss atomic.Int64
	rss.Store(30 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/metrics":
			fmt.Fprintf(w, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", rss.Load())
		case "/api/v1/alerts/log":
			zr, err := gzip.NewReader(r.Body)
			got, _ := io.ReadAll(zr)
			if err != nil || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "text/plain" || !bytes.Equal(got, body) {
				wrong.Add(1)
			}
			heavy.Add(1)
			rss.Store(200 << 20)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, `{"error":"too many"}`)
		default:
			io.Copy(io.Discard, r.Body)
		}
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: srv.URL, Clients: 2, Requests: 2000, SampleRSS: true,
		Flood: &loadgen.Flood{Clients: 2, Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: body, Gzip: true}})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Flood
	if f == nil || f.Requests == 0 || int64(f.Requests) != heavy.Load() || f.Statuses[413] != f.Requests || f.AnswerBytes != len(`{"error":"too many"}`) {
		t.Fatalf("flood %+v; server saw %d heavy requests", f, heavy.Load())
	}
	if wrong.Load() != 0 {
		t.Fatalf("%d heavy requests did not carry the gzipped body", wrong.Load())
	}
	if res.Errors != 0 || res.Requests != 2000 || res.RSSStart != 30<<20 || res.RSSPeak != 200<<20 {
		t.Fatalf("result %+v", res)
	}
}
