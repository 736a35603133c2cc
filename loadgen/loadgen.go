// Package loadgen drives runbot's alert intake over HTTP: a fixed number of
// concurrent clients, each sending generic-JSON batches as fast as the
// server answers. It measures what a storm of alerts costs, end to end.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a load.
type Config struct {
	URL          string // runbot's base URL, e.g. http://127.0.0.1:8080
	Token        string // bearer token, when runbot requires one
	Clients      int    // concurrent clients; default 32
	Batch        int    // alerts per request; default 1
	Requests     int    // total requests; zero: run for Duration
	Duration     time.Duration
	Fingerprints int // distinct fingerprints cycled through; default 1000
	// Client sends the requests; default: keep-alive with one idle
	// connection per client.
	Client *http.Client
}

// Result is what a load measured.
type Result struct {
	Requests int
	Alerts   int
	Errors   int // transport errors and non-2xx answers
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
}

// AlertsPerSecond is the intake rate of the run.
func (r Result) AlertsPerSecond() float64 { return float64(r.Alerts) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%d requests, %d alerts in %s: %.0f alerts/s, %.0f requests/s, latency p50 %s p99 %s max %s, %d errors",
		r.Requests, r.Alerts, r.Elapsed.Round(time.Millisecond), r.AlertsPerSecond(),
		float64(r.Requests)/r.Elapsed.Seconds(), r.P50, r.P99, r.Max, r.Errors)
}

// Bodies builds request bodies ahead of time, so the generator measures
// the server and not its own JSON encoding. Alert i of the stream gets
// fingerprint i mod fingerprints: a realistic mix of new failures and
// repeats of known ones.
func Bodies(n, batch, fingerprints int) [][]byte {
	bodies := make([][]byte, n)
	seq := 0
	for i := range bodies {
		var b bytes.Buffer
		b.WriteByte('[')
		for j := range batch {
			if j > 0 {
				b.WriteByte(',')
			}
			fp := seq % fingerprints
			fmt.Fprintf(&b, `{"service":"svc-%d","summary":"[svc-%d] loading page: GET /api/items/%d: 500","severity":"warning","fingerprint":"load-%d","labels":{"pod":"svc-%d-pod-%d","user_id":"%d"}}`,
				fp%50, fp%50, 10000+seq, fp, fp%50, seq%7, 100000+seq)
			seq++
		}
		b.WriteByte(']')
		bodies[i] = b.Bytes()
	}
	return bodies
}

// Run sends the load and reports what it measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 32
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1
	}
	if cfg.Fingerprints <= 0 {
		cfg.Fingerprints = 1000
	}
	if cfg.Requests <= 0 && cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("load needs a request count or a duration")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients,
		}}
	}
	url := cfg.URL + "/api/v1/alerts/generic"
	bodies := Bodies(1024, cfg.Batch, cfg.Fingerprints)
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}

	var next, errs atomic.Int64
	lat := make([][]time.Duration, cfg.Clients)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for c := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if cfg.Requests > 0 && i >= int64(cfg.Requests) {
					return
				}
				t0 := time.Now()
				err := send(ctx, cfg.Client, url, cfg.Token, bodies[i%int64(len(bodies))])
				if ctx.Err() != nil {
					return // cut by the deadline: neither a success nor an error
				}
				lat[c] = append(lat[c], time.Since(t0))
				if err != nil {
					errs.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := Result{Requests: len(all), Errors: int(errs.Load()), Elapsed: elapsed}
	r.Alerts = (r.Requests - r.Errors) * cfg.Batch
	if len(all) > 0 {
		r.P50, r.P99, r.Max = all[len(all)/2], all[len(all)*99/100], all[len(all)-1]
	}
	if firstErr != nil {
		return r, fmt.Errorf("%d of %d requests failed, first: %w", r.Errors, r.Requests, firstErr)
	}
	return r, nil
}

func send(ctx context.Context, client *http.Client, url, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("posting alerts: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("reading answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting alerts: %s", resp.Status)
	}
	return nil
}

// BareHandler reads and discards a request and answers like runbot's intake
// would, doing nothing else: the ceiling any intake can reach on the same
// machine, to measure runbot against in the same run.
func BareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"accepted":1,"incidents":[{"id":1,"opened":false}]}`+"\n")
	})
}
