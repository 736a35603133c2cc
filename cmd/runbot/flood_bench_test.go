package main

import (
	"context"
	"testing"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/loadgen"
)

// BenchmarkIntakeBesideFloods measures single alerts while heavy requests
// arrive: 8 concurrent clients send one alert per request to runbot as it
// runs in production (Run on a fresh file, default configuration), while
// other clients send, one after another, a megabyte of one-byte log lines
// (alone and three at once), a megabyte of one failure logged for other
// user ids, a 1,800-alert Alertmanager group, or a megabyte of log lines
// that are all different failures. One op is one
// single-alert request; p99-µs is theirs, heavy-p50-ms and answer-bytes
// are the heavy requests', and rss-MB is the peak resident memory of the
// process, which here holds the load generator too.
//
//	go test -run '^$' -bench IntakeBesideFloods -benchtime 20000x ./cmd/runbot
func BenchmarkIntakeBesideFloods(b *testing.B) {
	logFlood, near, distinct := loadgen.LogFlood(1<<20), loadgen.NearIdenticalLogLines(1<<20), loadgen.DistinctLogLines(1<<20)
	group := loadgen.AlertmanagerGroup(1800)
	for _, c := range []struct {
		name  string
		flood *loadgen.Flood
	}{
		{"alone", nil},
		{"log-flood", &loadgen.Flood{Clients: 1, Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: logFlood}},
		{"log-flood-x3", &loadgen.Flood{Clients: 3, Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: logFlood}},
		{"log-near", &loadgen.Flood{Clients: 1, Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: near}},
		{"alertmanager-1800", &loadgen.Flood{Clients: 1, Path: "/api/v1/alerts/alertmanager", ContentType: "application/json", Body: group}},
		{"log-distinct", &loadgen.Flood{Clients: 1, Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: distinct}},
	} {
		b.Run(c.name, func(b *testing.B) {
			bot := startBot(b, config.Default())
			b.ResetTimer()
			res, err := loadgen.Run(context.Background(), loadgen.Config{URL: bot.url, Clients: 8, Requests: b.N, Flood: c.flood, SampleRSS: true})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
			b.ReportMetric(float64(res.RSSPeak>>20), "rss-MB")
			if f := res.Flood; f != nil {
				b.ReportMetric(float64(f.P50.Milliseconds()), "heavy-p50-ms")
				b.ReportMetric(float64(f.AnswerBytes), "answer-bytes")
				b.Logf("heavy requests: %d, statuses %v", f.Requests, f.Statuses)
			}
		})
	}
}
