package alerts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

// framings are every way a log body can be framed.
var framings = []alerts.Framing{alerts.FramingAuto, alerts.FramingLines, alerts.FramingNDJSON, alerts.FramingJSON}

// records counts what a framing reads as one record each: for JSON, the
// objects of one array or of a stream; for lines, the non-blank lines
// (text, and the body without a type, being records when wholly JSON).
// ok is false when a JSON framing holds something that is not a record.
func records(body []byte, f alerts.Framing) (n int, ok bool) {
	lines := 0
	for l := range strings.SplitSeq(string(body), "\n") {
		if strings.TrimSpace(l) != "" {
			lines++
		}
	}
	if f == alerts.FramingNDJSON {
		return lines, true
	}
	n, ok = jsonRecords(bytes.TrimSpace(body))
	if (f == alerts.FramingAuto || f == alerts.FramingLines) && (!ok || n == 0) {
		return lines, true
	}
	return n, ok
}

// isText reports whether a body is UTF-8 with no control byte but white
// space and ESC.
func isText(body []byte) bool {
	return utf8.Valid(body) && !bytes.ContainsFunc(body, func(r rune) bool {
		return r < 0x20 && !strings.ContainsRune("\t\n\r\f\v\x1b", r)
	})
}

func jsonRecords(t []byte) (int, bool) {
	if len(t) == 0 || t[0] != '[' && t[0] != '{' {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	n := 0
	for dec.More() {
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return 0, false
		}
		switch {
		case v[0] == '{':
			n++
		case v[0] == '[' && n == 0:
			var objs []map[string]json.RawMessage
			if json.Unmarshal(v, &objs) != nil || dec.More() {
				return 0, false
			}
			for _, o := range objs {
				if o == nil {
					return 0, false
				}
			}
			return len(objs), len(objs) > 0
		default:
			return 0, false
		}
	}
	return n, true
}

// Whatever the framing, a body read is read whole: every record is
// counted once, as an alert sent or as a healthy line skipped, and what
// is left out is said; nothing panics.
func FuzzLogFramingsCountEveryRecord(f *testing.F) {
	for _, name := range []string{"fluentbit-json-k8s.json", "fluentbit-json_lines-k8s.ndjson", "vector-json-k8s.json", "logstash-json_batch.json",
		"fluentbit-gelf-k8s.ndjson"} {
		f.Add(readTestdataF(f, "shippers/"+name), uint8(0))
	}
	f.Add(readTestdataF(f, "app.log"), uint8(1))
	f.Add([]byte(`{"log":"x"}{"log":"y"}`), uint8(3))
	f.Add([]byte("[1]\n[svc] op: err"), uint8(0))
	f.Add([]byte("\x92\xd7\x00\x81\xa3log"), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		framing := framings[int(which)%len(framings)]
		b, err := alerts.ParseLogBatch(body, framing, alerts.BatchLimits{KeepOrder: 1 << 30})
		want, ok := records(body, framing)
		if err != nil {
			var notText *alerts.NotTextError
			switch {
			case errors.As(err, &notText):
				if isText(body) {
					t.Fatalf("%v: text refused as binary: %v", framing, err)
				}
			case framing != alerts.FramingJSON && want > 0:
				t.Fatalf("%v: a text body of %d lines refused: %v (an alert is never dropped for its form)", framing, want, err)
			}
			return
		}
		if !ok {
			t.Fatalf("%v: accepted a body that is not JSON records: %q", framing, body)
		}
		sum := 0
		for _, n := range b.Repeats {
			sum += n
		}
		if b.Sent+b.Skipped != want || sum != b.Sent || len(b.Of) != b.Sent {
			t.Fatalf("%v: %d sent + %d skipped (repeats sum to %d, order of %d), want %d records", framing, b.Sent, b.Skipped, sum, len(b.Of), want)
		}
		for _, a := range b.Alerts {
			checkAlert(t, a)
		}
		if framing == alerts.FramingAuto {
			plain, err := alerts.ParseLog(body)
			if err != nil || len(plain) != b.Sent {
				t.Fatalf("ParseLog: %d alerts, %v; ParseLogBatch sent %d", len(plain), err, b.Sent)
			}
		}
	})
}

// An array of records and the same records one per line file the same
// alerts, under any JSON or lines type.
func FuzzLogArrayAndNDJSONAgree(f *testing.F) {
	f.Add("[user-sync-service] creating user: POST /api/users/48213: 403", "error", "user-sync-7d9f8b6c5-q8z1m", "INFO", `{"msg":"synced","level":"info"}`)
	f.Add("", "", "", "", "")
	f.Add(`{"level":"error","msg":"reserving stock","error":"dial tcp 10.43.0.12:5432: refused"}`, "warn", "p", "x", "panic: boom")
	f.Fuzz(func(t *testing.T, msg1, level1, pod, level2, msg2 string) {
		recs := []map[string]any{
			{"date": 1795507272.118337, "log": msg1, "level": level1, "kubernetes": map[string]any{"pod_name": pod, "namespace_name": "ns"}},
			{"timestamp": "2026-11-24T08:01:12Z", "message": msg2, "level": level2},
			{"@timestamp": "2026-11-24T08:02:12Z", "message": msg1, "level": level1, "kubernetes": map[string]any{"pod_name": pod}},
			{"date": 1795507335.5, "log": msg1, "level": level1, "kubernetes": map[string]any{"pod_name": pod, "namespace_name": "ns"}},
		}
		var lines [][]byte
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, b)
		}
		array := append(append([]byte("["), bytes.Join(lines, []byte(",\n"))...), ']')
		ndjson := bytes.Join(lines, []byte("\n"))
		var got []string
		for _, c := range []struct {
			body    []byte
			framing alerts.Framing
		}{{array, alerts.FramingJSON}, {array, alerts.FramingAuto}, {ndjson, alerts.FramingNDJSON}, {ndjson, alerts.FramingAuto}, {ndjson, alerts.FramingJSON}, {ndjson, alerts.FramingLines}} {
			b, err := alerts.ParseLogBatch(c.body, c.framing, alerts.BatchLimits{KeepOrder: 100})
			if err != nil {
				t.Fatalf("%v: %v", c.framing, err)
			}
			var s strings.Builder
			fmt.Fprintf(&s, "sent %d skipped %d of %v:", b.Sent, b.Skipped, b.Of)
			for i, a := range b.Alerts {
				fmt.Fprintf(&s, " [%s %s %q %s %v x%d]", a.Fingerprint, a.Service, a.Title, a.Severity, a.Labels, b.Repeats[i])
			}
			got = append(got, s.String())
			if b.Sent+b.Skipped != len(recs) {
				t.Fatalf("%v: %s, want every one of %d records counted once", c.framing, s.String(), len(recs))
			}
		}
		for i := range got {
			if got[i] != got[0] {
				t.Fatalf("framings disagree:\n %s\n %s", got[0], got[i])
			}
		}
		// The first and last records differ only in their time: one alert.
		if b, _ := alerts.ParseLogBatch(ndjson, alerts.FramingNDJSON, alerts.BatchLimits{KeepOrder: 100}); b.Sent > 0 && len(b.Of) == 4 && b.Of[0] != b.Of[3] {
			t.Fatalf("the same record at two times is two alerts: %v", b.Of)
		}
	})
}

// A JSON application log inside a shipper's message string is read as
// the record it is: the same failure, service, title and level as sent
// directly, with the shipper's Kubernetes pod added.
func FuzzLogNestedMessageIsTheRecord(f *testing.F) {
	f.Add("creating user", "POST /api/users/48213: 403", "user-sync-service", "error", "a", "b")
	f.Add("[billing] exporting: 500", "", "", "warn", "", "")
	f.Add("", "", "", "", "k", "v")
	f.Fuzz(func(t *testing.T, msg, errText, service, level, k, v string) {
		inner := map[string]any{"msg": msg, "error": errText, "service": service, "level": level, "time": "2026-11-24T08:01:12Z"}
		if k != "" {
			if _, taken := inner[k]; !taken {
				inner[k] = v
			}
		}
		app, err := json.Marshal(inner)
		if err != nil {
			t.Fatal(err)
		}
		direct := alerts.ParseLine(string(app))
		for _, wrapper := range []map[string]any{
			{"date": 1795507272.118337, "stream": "stderr", "log": string(app), "kubernetes": map[string]any{"pod_name": "p-1", "namespace_name": "ns"}},
			{"timestamp": "2026-11-24T08:01:12.5Z", "message": string(app), "kubernetes": map[string]any{"pod_name": "p-1", "pod_namespace": "ns"}},
		} {
			line, err := json.Marshal(wrapper)
			if err != nil {
				t.Fatal(err)
			}
			shipped := alerts.ParseLine(string(line))
			if shipped.Fingerprint != direct.Fingerprint || shipped.Service != direct.Service || shipped.Title != direct.Title || shipped.Severity != direct.Severity {
				t.Fatalf("shipped %q:\n %+v\nsent directly:\n %+v", line, shipped, direct)
			}
			for name, val := range direct.Labels {
				if shipped.Labels[name] != val {
					t.Fatalf("label %s: shipped %q, direct %q", name, shipped.Labels[name], val)
				}
			}
			if _, own := inner["pod"]; !own && shipped.Labels["pod"] != "p-1" {
				t.Fatalf("the shipper's pod is lost: %v", shipped.Labels)
			}
		}
	})
}
