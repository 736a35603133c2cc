package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

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
