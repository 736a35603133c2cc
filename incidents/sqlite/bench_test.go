package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// BenchmarkIngest measures the store alone: one alert per Ingest call from
// 32 concurrent callers (so group commit can work), over 1000 fingerprints.
func BenchmarkIngest(b *testing.B) {
	_, svc, _ := open(b)
	var seq atomic.Int64
	b.SetParallelism(16) // 16 x GOMAXPROCS(2) = 32 callers
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			a := alert(fmt.Sprintf("load-%d", n%1000), incidents.AlertFiring, map[string]string{"pod": fmt.Sprintf("pod-%d", n%7), "user_id": fmt.Sprint(n)})
			if _, err := svc.Ingest(context.Background(), []incidents.Alert{a}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIngestIdentical is BenchmarkIngest with the repeats the same as
// their incident's newest kept alert: with RawRepeatEvery each incident
// keeps one raw copy instead of one per repeat.
func BenchmarkIngestIdentical(b *testing.B) {
	for _, every := range []time.Duration{0, 10 * time.Minute} {
		b.Run("raw_repeat_every="+every.String(), func(b *testing.B) {
			_, svc, _ := open(b)
			svc.RawRepeatEvery = every
			var seq atomic.Int64
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					a := alert(fmt.Sprintf("load-%d", n%1000), incidents.AlertFiring, map[string]string{"pod": fmt.Sprintf("pod-%d", n%1000)})
					if _, err := svc.Ingest(context.Background(), []incidents.Alert{a}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkIngestNew is a burst of new incidents: every alert opens one,
// from 32 concurrent callers, with the console as the one platform (its
// root message queued with each opening). An opening writes the incident,
// its opening event, its raw alert, its messages and its deadlines; the
// time per opening is the single writer's, which bounds how fast a burst
// of new fingerprints goes in.
func BenchmarkIngestNew(b *testing.B) {
	_, svc, _ := open(b)
	svc.Platforms = []string{"web"}
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			a := alert(fmt.Sprintf("new-%d", n), incidents.AlertFiring, map[string]string{"pod": fmt.Sprintf("pod-%d", n%7)})
			a.Title = fmt.Sprintf("rule %d firing", n)
			if _, err := svc.Ingest(context.Background(), []incidents.Alert{a}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
