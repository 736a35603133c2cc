package alerts_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

// BenchmarkParseBatchLogFloods reads a megabyte of log lines of several
// kinds, as intake does (at most 10,000 distinct alerts): one op is one
// body.
//
//	go test -run '^$' -bench ParseBatchLogFloods -benchmem ./incidents/alerts
func BenchmarkParseBatchLogFloods(b *testing.B) {
	lines := func(format string) []byte {
		var buf bytes.Buffer
		for i := 0; buf.Len() < 1<<20-64; i++ {
			fmt.Fprintf(&buf, format, 100000+i)
		}
		return buf.Bytes()
	}
	for _, c := range []struct {
		name string
		body []byte
		ok   bool // within the limit on distinct alerts
	}{
		{"one-byte-lines", bytes.Repeat([]byte("x\n"), 1<<19), true},
		{"one-story-other-ids", lines("[user-sync-service] creating user: POST /api/users/%d: 403\n"), true},
		{"short-lines-other-ids", lines("x%d\n"), true},
		{"all-different", lines("[s%d] o: e\n"), false},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				_, err := alerts.ParseBatch(alerts.SourceLog, c.body, alerts.BatchLimits{MaxAlerts: 10000, KeepOrder: 100})
				if (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
