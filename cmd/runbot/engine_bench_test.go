package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

const (
	seedIncidents = 100_000
	seedActive    = 10_000
)

var seeded struct {
	sync.Once
	dir string
	err error
}

// seedDB builds, once per test binary, a database with 100,000 incidents
// of which 10,000 are active, through the service as production does.
func seedDB(b *testing.B) string {
	seeded.Do(func() {
		seeded.dir, seeded.err = os.MkdirTemp("", "runbot-bench")
		if seeded.err != nil {
			return
		}
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(seeded.dir, "runbot.db"), sqlite.Options{})
		if err != nil {
			seeded.err = err
			return
		}
		defer db.Close()
		svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
		start := time.Now()
		for i := 0; i < seedIncidents; i += 1000 {
			batch := make([]incidents.Alert, 1000)
			for j := range batch {
				n := i + j
				batch[j] = incidents.Alert{Source: "generic", Fingerprint: fmt.Sprintf("seed-%d", n), Service: fmt.Sprintf("svc-%d", n%60),
					Title: fmt.Sprintf("failure %d", n), Severity: []string{"critical", "warning", "info"}[n%3], Status: incidents.AlertFiring,
					Labels: map[string]string{"pod": fmt.Sprintf("pod-%d", n%7)}}
			}
			if _, err := svc.Ingest(ctx, batch); err != nil {
				seeded.err = err
				return
			}
		}
		var next atomic.Int64
		next.Store(seedActive)
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := next.Add(1); id <= seedIncidents; id = next.Add(1) {
					if _, err := svc.Resolve(ctx, id, "seed", ""); err != nil && seeded.err == nil {
						seeded.err = err
					}
				}
			}()
		}
		wg.Wait()
		fmt.Fprintf(os.Stderr, "seeded %d incidents (%d active) in %s\n", seedIncidents, seedActive, time.Since(start).Round(time.Millisecond))
	})
	if seeded.err != nil {
		b.Fatal(seeded.err)
	}
	return filepath.Join(seeded.dir, "runbot.db")
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkCommandsAt100kIncidents measures /incidents and /ack through
// POST /api/v1/commands on loopback against a database of 100,000
// incidents, 10,000 of them active, with a chat platform attached (every
// /ack queues its thread messages). Latencies are the client's round trip,
// which bounds the server's time from above.
//
//	go test -run '^$' -bench CommandsAt100k -benchtime 2000x ./cmd/runbot
func BenchmarkCommandsAt100kIncidents(b *testing.B) {
	path := seedDB(b)
	cfg := config.Default()
	cfg.DB = path
	cfg.ChannelRate, cfg.ChannelBurst = 1000, 1000
	bt := startBot(b, cfg, bottest.NewRecorder("fake", "incidents"))

	measure := func(b *testing.B, text func(i int) string, wantStatus int) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			var out commandResult
			code := call(b, "POST", bt.url+"/api/v1/commands", "", fmt.Sprintf(`{"text": %q, "user": "alice"}`, text(i)), &out)
			lat = append(lat, time.Since(t0))
			if code != wantStatus {
				b.Fatalf("%s: %d %s", text(i), code, out.Reply)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	}
	b.Run("incidents", func(b *testing.B) {
		measure(b, func(i int) string { return fmt.Sprintf("/incidents %d", 1+i%100) }, 200)
	})
	var acked atomic.Int64
	b.Run("ack", func(b *testing.B) {
		if b.N > seedActive {
			b.Skip("more acks than active incidents")
		}
		base := acked.Load()
		measure(b, func(i int) string { return fmt.Sprintf("/ack %d", seedActive-base-int64(i)) }, 200)
		acked.Add(int64(b.N))
	})
}

// BenchmarkSchedulerReminders opens 1,200 P1 incidents over one second on
// top of the 100,000-incident database and measures how late their
// acknowledge reminders fire (one timer, no polling), and the memory the
// process holds meanwhile.
//
//	go test -run '^$' -bench SchedulerReminders -benchtime 1x ./cmd/runbot
func BenchmarkSchedulerReminders(b *testing.B) {
	path := seedDB(b)
	const incidentsToOpen = 1200
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		db, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pol := incidents.DefaultPolicy()
		pol.SLA[incidents.P1] = incidents.Target{Ack: 4 * time.Second, Restore: time.Hour}
		svc := sqlite.NewIncidentService(db, pol)
		svc.Platforms = []string{"fake"}
		var mu sync.Mutex
		var lateness []time.Duration
		svc.ObserveFired = func(key string, late time.Duration) {
			if strings.HasPrefix(key, "ack-reminder/P1") {
				mu.Lock()
				lateness = append(lateness, late)
				mu.Unlock()
			}
		}
		sched := bot.NewScheduler(svc, nil, nil)
		done := make(chan struct{})
		go func() { defer close(done); sched.Run(ctx) }()

		var peakSys, peakHeap uint64
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peakSys, peakHeap = max(peakSys, ms.Sys), max(peakHeap, ms.HeapInuse)
				select {
				case <-stopSampling:
					return
				case <-tick.C:
				}
			}
		}()

		b.ResetTimer()
		for i := range incidentsToOpen / 100 {
			batch := make([]incidents.Alert, 100)
			for j := range batch {
				batch[j] = incidents.Alert{Source: "generic", Fingerprint: fmt.Sprintf("bench-%d-%d-%d", time.Now().UnixNano(), i, j),
					Service: "checkout", Title: "payments failing", Priority: incidents.P1, Status: incidents.AlertFiring}
			}
			if _, err := svc.Ingest(ctx, batch); err != nil {
				b.Fatal(err)
			}
			sched.Wake()
			time.Sleep(80 * time.Millisecond)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(lateness)
			mu.Unlock()
			if n >= incidentsToOpen || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		close(stopSampling)
		<-sampled
		cancel()
		<-done
		db.Close()
		if len(lateness) < incidentsToOpen {
			b.Fatalf("%d of %d reminders fired", len(lateness), incidentsToOpen)
		}
		b.ReportMetric(float64(len(lateness)), "reminders")
		b.ReportMetric(float64(percentile(lateness, 0.5).Microseconds())/1000, "late-p50-ms")
		b.ReportMetric(float64(percentile(lateness, 0.99).Microseconds())/1000, "late-p99-ms")
		b.ReportMetric(float64(lateness[len(lateness)-1].Microseconds())/1000, "late-max-ms")
		b.ReportMetric(float64(peakSys)/(1<<20), "peak-sys-MB")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	}
}

// BenchmarkRunWeekDigests measures the morning check and the week's
// handover on the 100,000-incident database: what the console's home page
// and the scheduled posts compute.
//
//	go test -run '^$' -bench RunWeekDigests -benchtime 20x ./cmd/runbot
func BenchmarkRunWeekDigests(b *testing.B) {
	path := seedDB(b)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	router := &commands.Router{Incidents: svc, Policy: incidents.DefaultPolicy(), Asks: sqlite.NewAsks(db)}
	now := time.Now()
	b.Run("morning", func(b *testing.B) {
		for b.Loop() {
			if _, err := router.MorningCheck(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("handover", func(b *testing.B) {
		for b.Loop() {
			if _, err := router.Handover(ctx, now.Add(-7*24*time.Hour), now, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
