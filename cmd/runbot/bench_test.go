package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/loadgen"
)

// BenchmarkIntake measures durable intake over HTTP on loopback against a
// bare handler that only reads and discards the same requests, in the same
// run: 32 concurrent clients, 1 and 50 alerts per request. One op is one
// request. runbot runs exactly as in production (Run with the default
// configuration on a fresh file): SQLite in WAL mode with
// synchronous=FULL (sqlite.Synchronous), so every 2xx is on disk.
//
//	go test -run '^$' -bench Intake -benchtime 20000x ./cmd/runbot
func BenchmarkIntake(b *testing.B) {
	for _, batch := range []int{1, 50} {
		b.Run(fmt.Sprintf("bare/batch=%d", batch), func(b *testing.B) {
			srv := httptest.NewServer(loadgen.BareHandler())
			defer srv.Close()
			benchLoad(b, srv.URL, batch)
		})
		b.Run(fmt.Sprintf("runbot/batch=%d", batch), func(b *testing.B) {
			bot := startBot(b, config.Default())
			if batch == 1 {
				b.Logf("SQLite: journal_mode=WAL synchronous=%s, group commit (as in production)", sqlite.Synchronous)
			}
			benchLoad(b, bot.url, batch)
		})
	}
}

func benchLoad(b *testing.B, url string, batch int) {
	b.ReportAllocs()
	b.ResetTimer()
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: url, Clients: 32, Batch: batch, Requests: b.N})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.AlertsPerSecond(), "alerts/s")
	b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
}
