package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/runbot-dev/runbot/loadgen"
)

// BenchmarkIntakeLogFlood measures what a megabyte of one-byte log lines
// costs runbot over HTTP on loopback, into a real database: one op is one
// request.
//
//	go test -run '^$' -bench IntakeLogFlood -benchmem ./api
func BenchmarkIntakeLogFlood(b *testing.B) {
	e := newIntakeEnv(b)
	body := loadgen.LogFlood(1 << 20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Post(e.srv.URL+"/api/v1/alerts/log", "text/plain", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
