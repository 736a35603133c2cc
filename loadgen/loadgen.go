// Package loadgen drives runbot's alert intake over HTTP: a fixed number of
// concurrent clients, each sending generic-JSON batches as fast as the
// server answers. It measures what a storm of alerts costs, end to end.
package loadgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a load.
type Config struct {
	URL string // runbot's base URL, e.g. http://127.0.0.1:8080
	// URLs, when set, replace URL: replicas serving one database, request
	// i going to URLs[i mod len(URLs)], as a round-robin balancer would;
	// heavy requests and memory samples go to the first.
	URLs         []string
	Token        string // bearer token, when runbot requires one
	Clients      int    // concurrent clients; default 32
	Batch        int    // alerts per request; default 1
	Requests     int    // total requests; zero: run for Duration
	Duration     time.Duration
	Fingerprints int // distinct fingerprints cycled through; default 1000
	// Path and Bodies, when set, replace the generic-JSON load: request i
	// posts Bodies[i mod len(Bodies)] to URL+Path, and Batch says how
	// many alerts each body holds.
	Path   string
	Bodies [][]byte
	// Client sends the requests; default: keep-alive with one idle
	// connection per client.
	Client *http.Client
	// Flood, when set, sends heavy requests beside the load for as long as
	// it runs: what single alerts cost while large bodies arrive.
	Flood *Flood
	// SampleRSS reads the server's resident memory from its /metrics
	// (process_resident_memory_bytes) every 50 ms while the load runs.
	SampleRSS bool
}

// Flood is a stream of heavy requests: each of Clients senders posts Body
// to Path, one request after another.
type Flood struct {
	Clients     int // default 1
	Path        string
	Body        []byte
	ContentType string
	Gzip        bool // send Body gzipped (Content-Encoding: gzip)
}

// FloodResult is what the heavy requests met. Their refusals are results,
// not errors: a 413 may be the answer the flood is meant to get.
type FloodResult struct {
	Requests    int
	Statuses    map[int]int // answers by status; 0 counts transport errors
	P50, Max    time.Duration
	AnswerBytes int // the largest answer
}

// Result is what a load measured.
type Result struct {
	Requests int
	Alerts   int
	Errors   int // transport errors and non-2xx answers
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	Flood    *FloodResult // with Config.Flood
	// RSSStart and RSSPeak are the server's resident memory when the load
	// began and the most sampled during it (with Config.SampleRSS).
	RSSStart, RSSPeak int64
	// Latencies are every request's, sorted: loads measured in slices
	// are summed up with them.
	Latencies []time.Duration
}

// AlertsPerSecond is the intake rate of the run.
func (r Result) AlertsPerSecond() float64 { return float64(r.Alerts) / r.Elapsed.Seconds() }

func (r Result) String() string {
	s := fmt.Sprintf("%d requests, %d alerts in %s: %.0f alerts/s, %.0f requests/s, latency p50 %s p99 %s max %s, %d errors",
		r.Requests, r.Alerts, r.Elapsed.Round(time.Millisecond), r.AlertsPerSecond(),
		float64(r.Requests)/r.Elapsed.Seconds(), r.P50, r.P99, r.Max, r.Errors)
	if f := r.Flood; f != nil {
		s += fmt.Sprintf("; beside %d heavy requests (statuses %v) taking p50 %s max %s, largest answer %d bytes",
			f.Requests, f.Statuses, f.P50.Round(time.Millisecond), f.Max.Round(time.Millisecond), f.AnswerBytes)
	}
	if r.RSSPeak > 0 {
		s += fmt.Sprintf("; server RSS %d MB at start, %d MB at peak", r.RSSStart>>20, r.RSSPeak>>20)
	}
	return s
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
	bases := cfg.URLs
	if len(bases) == 0 {
		bases = []string{cfg.URL}
	}
	cfg.URL = bases[0]
	if cfg.Client == nil {
		// Every client keeps a connection to every replica it takes turns on.
		cfg.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: cfg.Clients * len(bases), MaxIdleConnsPerHost: cfg.Clients,
		}}
	}
	path := "/api/v1/alerts/generic"
	if cfg.Path != "" {
		path = cfg.Path
	}
	urls := make([]string, len(bases))
	for i, b := range bases {
		urls[i] = b + path
	}
	bodies := cfg.Bodies
	if len(bodies) == 0 {
		bodies = Bodies(1024, cfg.Batch, cfg.Fingerprints)
	}
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
	var rssStart, rssPeak int64
	stopSampling := func() {}
	if cfg.SampleRSS {
		var err error
		if rssStart, err = residentMemory(ctx, cfg.Client, cfg.URL); err != nil {
			return Result{}, fmt.Errorf("reading the server's memory: %w", err)
		}
		stopSampling = sampleRSS(cfg.Client, cfg.URL, &rssPeak)
	}
	// Heavy requests start with the load and stop being sent when it
	// ends; those under way are waited for, so each is measured whole.
	loadDone := make(chan struct{})
	var flood *FloodResult
	var floodWG sync.WaitGroup
	if cfg.Flood != nil {
		flood = &FloodResult{Statuses: map[int]int{}}
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			runFlood(ctx, cfg, loadDone, flood)
		}()
	}
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
				err := send(ctx, cfg.Client, urls[i%int64(len(urls))], cfg.Token, bodies[i%int64(len(bodies))])
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
	close(loadDone)
	floodWG.Wait()
	stopSampling()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := Result{Requests: len(all), Errors: int(errs.Load()), Elapsed: elapsed, Flood: flood,
		RSSStart: rssStart, RSSPeak: max(rssStart, rssPeak), Latencies: all}
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

// runFlood sends cfg.Flood until loadDone is closed or ctx ends; each
// sender sends at least once, however short the load.
func runFlood(ctx context.Context, cfg Config, loadDone <-chan struct{}, out *FloodResult) {
	f := cfg.Flood
	body := f.Body
	if f.Gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	// Answers to heavy requests may take long; they are measured, not cut.
	client := &http.Client{Timeout: 2 * time.Minute}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range max(f.Clients, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t0 := time.Now()
				status, size := sendHeavy(client, cfg.URL+f.Path, cfg.Token, f, body)
				took := time.Since(t0)
				mu.Lock()
				out.Requests++
				out.Statuses[status]++
				out.AnswerBytes = max(out.AnswerBytes, size)
				lat = append(lat, took)
				mu.Unlock()
				select {
				case <-loadDone:
					return
				case <-ctx.Done():
					return
				default:
				}
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) > 0 {
		out.P50, out.Max = lat[len(lat)/2], lat[len(lat)-1]
	}
}

// sendHeavy posts one heavy request and returns its status (0 for a
// transport error) and the size of its answer.
func sendHeavy(client *http.Client, url, token string, f *Flood, body []byte) (int, int) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0
	}
	if f.ContentType != "" {
		req.Header.Set("Content-Type", f.ContentType)
	}
	if f.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, int(n)
	}
	return resp.StatusCode, int(n)
}

// sampleRSS keeps the largest resident memory the server reports in peak
// until the returned stop is called.
func sampleRSS(client *http.Client, url string, peak *int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		sample := func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if rss, err := residentMemory(ctx, client, url); err == nil {
				*peak = max(*peak, rss)
			}
		}
		for {
			sample()
			select {
			case <-done:
				sample() // what the last requests left, however short the run
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// residentMemory reads process_resident_memory_bytes from the server's
// /metrics.
func residentMemory(ctx context.Context, client *http.Client, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("process_resident_memory_bytes %q: %w", v, err)
			}
			return int64(f), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s/metrics has no process_resident_memory_bytes", url)
}
