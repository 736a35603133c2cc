package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/loadgen"
)

// BenchmarkIntake measures durable intake over HTTP on loopback against a
// bare handler that only reads and discards the same requests, in the same
// run: 32 concurrent clients, 1 and 50 alerts per request, alerts cycling
// over 1000 fingerprints. One op is one request. runbot runs exactly as in
// production (Run on a fresh file): SQLite in WAL mode with
// synchronous=NORMAL, the default (db_sync: normal), and with
// synchronous=FULL (db_sync: full); the settings are read back from a live
// connection and logged.
//
//	go test -run '^$' -bench Intake -benchtime 20000x ./cmd/runbot
func BenchmarkIntake(b *testing.B) {
	for _, batch := range []int{1, 50} {
		b.Run(fmt.Sprintf("bare/batch=%d", batch), func(b *testing.B) {
			srv := httptest.NewServer(loadgen.BareHandler())
			defer srv.Close()
			benchLoad(b, srv.URL, batch)
		})
		for _, sync := range []string{"normal", "full"} {
			b.Run(fmt.Sprintf("runbot-sync-%s/batch=%d", sync, batch), func(b *testing.B) {
				cfg := config.Default()
				cfg.DBSync = sync
				bot := startBot(b, cfg)
				b.Logf("SQLite as runbot logged it: %s", pragmaLine(b, bot.logs.String()))
				benchLoad(b, bot.url, batch)
			})
		}
	}
}

func pragmaLine(b *testing.B, logs string) string {
	for _, l := range strings.Split(logs, "\n") {
		var rec struct {
			Msg         string `json:"msg"`
			Journal     string `json:"journal_mode"`
			Synchronous string `json:"synchronous"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "database ready" {
			return "journal_mode=" + rec.Journal + " synchronous=" + rec.Synchronous
		}
	}
	b.Fatal("runbot did not log its database settings")
	return ""
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
