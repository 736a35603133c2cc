package postmortem

import (
	"strings"
	"testing"
)

// BenchmarkTemplate drafts the realistic checkout incident from the
// template: what /postmortem costs without an LLM.
func BenchmarkTemplate(b *testing.B) {
	f := checkoutFacts(b)
	b.ReportAllocs()
	for b.Loop() {
		Template(f)
	}
}

// BenchmarkRedact scrubs a 64 KiB prompt-sized text with a few secrets in
// it: every LLM request pays this.
func BenchmarkRedact(b *testing.B) {
	r, err := NewRedactor([]string{"intake-s3cret-token-42", "xoxb-1234-5678-abcdefabcdef"}, []string{`INT-[0-9]{6}`})
	if err != nil {
		b.Fatal(err)
	}
	line := "2026-11-24 14:21 CET comment carol: 502s from payment-gateway, see https://grafana.example.com/d/checkout?orgId=1 INT-123456\n"
	text := strings.Repeat(line, 65536/len(line)) + "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl password=hunter2 AKIAIOSFODNN7EXAMPLE\n"
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		r.Redact(text)
	}
}
