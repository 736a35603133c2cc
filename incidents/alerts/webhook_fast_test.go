package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// webhookSeeds are real payloads and the shapes the one pass must leave
// to readWebhook: "alerts" spelled otherwise or given twice, escaped
// keys, something after the object, alerts that are no array, fields of
// the wrong type, entries that are not objects.
func webhookSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, glob := range []string{"testdata/*.json", "testdata/kubernetes/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	if len(seeds) < 5 {
		t.Fatalf("only %d payloads found in testdata", len(seeds))
	}
	for _, s := range []string{
		`{"version":"4","alerts":[{"labels":{"alertname":"A"}}]}`,
		" \n{\"version\":\"4\", \"alerts\" : [ {\"labels\":{\"alertname\":\"A\"}} ,\t{\"status\":\"resolved\",\"labels\":{\"alertname\":\"B\"}}] } ",
		`{"Alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}],"ALERTS":[]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}],"alerts":[{"labels":{"alertname":"B"}}]}`,
		`{"al\u0065rts":[{"labels":{"alertname":"A"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}]} x`,
		`{"alerts":[{"labels":{"alertname":"A"}}]}{}`,
		`{"alerts":null}`,
		`{"alerts":[]}`,
		`{"alerts":[null,{"labels":{"alertname":"A"}}]}`,
		`{"alerts":["x"]}`,
		`{"alerts":{"labels":{}}}`,
		`{"alerts":[{"labels":{"alertname":5}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"},"Labels":{"alertname":"B"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A","__alert_rule_uid__":"x"}}]}`,
		`{"version":4,"alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"version":"3","alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"VERSION":"4","version":"1","alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"truncatedAlerts":1e3,"alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"groupKey":"{}:{a=\"b\"}","extra":{"nested":[1,-2.5e3,true,{"x":null,"alerts":[]}],"s":"]}\\\""},"alerts":[{"labels":{"alertname":"\u00e9\"]}"},"startsAt":"2026-01-02T03:04:05Z"}]}`,
		`[{"labels":{"alertname":"A"}}]`,
		`{"alerts":[{"labels":{"alertname":"A"},"startsAt":null}]}`,
		`{"alerts":[{"labels":{"alertname":"A"},"startsAt":"yesterday"}]}`,
		`{"alerts":[{"labels":{"alertname":"A"},"startsAt":"2026-01-02T03:04:05.123+01:00"}]}`,
		`{"alerts":[{"labels":{"alertname":"A","x":"tab\there \u00e9 \ud83d\ude00"},"annotations":{}}]}`,
		"{\"alerts\":[{\"labels\":{\"alertname\":\"bad \xff utf8\"}}]}",
		"{\"alerts\":[{\"labels\":{\"alertname\":\"ctl \x01\"}}]}",
		`{"alerts":[{"labels":{"alertname":"A","alertname":"B"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"},"status":"firing","status":"resolved"}]}`,
		`{"alerts":[{"labels":{"alertname":"A"},"ſtatus":"resolved"}]}`,
		`{"truncatedAlerts":-0,"x":[true,false,null,0,-1.5e+10,{"a":[[]]}],"alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"truncatedAlerts":01,"alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"truncatedAlerts":99999999999999999999,"alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"x":tru,"alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"}},]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}],}`,
		`{"alerts":[{"labels":{"alertname":"A"},"fingerprint":"\u12"}]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkOnePass fails when the one pass read a body otherwise than
// readWebhook and json.Unmarshal of each entry would.
func checkOnePass(t *testing.T, body []byte) {
	w, decoded, ok := decodeWebhook(body)
	if !ok {
		return // read by readWebhook: its answer is the one returned
	}
	var want webhook
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("the one pass read a body json.Unmarshal refuses (%v):\n%s", err, body)
	}
	if w.Version != want.Version || w.GroupKey != want.GroupKey || w.TruncatedAlerts != want.TruncatedAlerts ||
		len(w.Alerts) != len(want.Alerts) || len(decoded) != len(want.Alerts) {
		t.Fatalf("envelope %+v, want %+v, for\n%s", w, want, body)
	}
	for i, raw := range want.Alerts {
		if string(w.Alerts[i]) != string(raw) {
			t.Fatalf("entry %d kept as %q, sent as %q", i, w.Alerts[i], raw)
		}
		var e webhookAlert
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("the one pass decoded entry %d, which json.Unmarshal refuses (%v): %s", i, err, raw)
		}
		if !reflect.DeepEqual(e, decoded[i]) {
			t.Fatalf("entry %d decoded as %+v, want %+v", i, decoded[i], e)
		}
	}
}

func TestWebhookOnePassReadsAsUnmarshal(t *testing.T) {
	read := 0
	for _, body := range webhookSeeds(t) {
		checkOnePass(t, body)
		if _, _, ok := decodeWebhook(body); ok {
			read++
		}
	}
	// The real payloads at least go the fast way.
	if read < 10 {
		t.Fatalf("the one pass read only %d bodies", read)
	}
	for _, body := range []string{
		`{"Alerts":[{"labels":{"alertname":"A"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}],"alerts":[{"labels":{"alertname":"B"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"}}]} x`,
		`{"alerts":[{"labels":{"alertname":5}}]}`,
		`{"alerts":null}`,
		`{"alerts":[{"labels":{"alertname":"A"}}`,
		`{"alerts":[{"labels":{"alertname":"A"},"ſtatus":"resolved"}]}`,
		`{"alerts":[{"labels":{"alertname":"A","alertname":"B"}},{"labels":{"a":"b"},"labels":{"c":"d"}}]}`,
		`{"alerts":[{"labels":{"alertname":"A"},"startsAt":null}]}`,
		`{"truncatedAlerts":1e3,"alerts":[{"labels":{"alertname":"A"}}]}`,
	} {
		if _, _, ok := decodeWebhook([]byte(body)); ok {
			t.Errorf("the one pass read %s: readWebhook should", body)
		}
	}
}

// Parsing gives the same alerts and errors by the one pass as by
// readWebhook: every seed is parsed with the one pass turned off too.
func TestWebhookOnePassParsesAlike(t *testing.T) {
	for _, body := range webhookSeeds(t) {
		for _, source := range []string{SourceAlertmanager, SourceGrafana} {
			fast, fastErr := ParseBatch(source, body, BatchLimits{KeepOrder: 100})
			slow, slowErr := parseSlowly(source, body)
			if (fastErr == nil) != (slowErr == nil) || (fastErr != nil && fastErr.Error() != unshift(slowErr.Error(), body)) {
				t.Fatalf("%s: error %v by the one pass, %v by readWebhook, for\n%s", source, fastErr, slowErr, body)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s: %+v by the one pass, %+v by readWebhook, for\n%s", source, fast, slow, body)
			}
		}
	}
}

// slowKey, put first in a body's object, sends it the slow way and
// changes nothing else: json.Unmarshal takes it for "alerts", and a later
// "alerts" replaces it.
func slowKey(body []byte, brace int) string {
	if strings.HasPrefix(strings.TrimLeft(string(body[brace+1:]), " \t\r\n"), "}") {
		return `"ALERTS":[]`
	}
	return `"ALERTS":[],`
}

// parseSlowly parses with readWebhook alone.
func parseSlowly(source string, body []byte) (*Batch, error) {
	b := append([]byte(nil), body...)
	if i := firstBrace(b); i >= 0 {
		b = append(b[:i+1:i+1], append([]byte(slowKey(body, i)), b[i+1:]...)...)
		if _, _, ok := decodeWebhook(b); ok {
			panic("the one pass read a body it must leave")
		}
	}
	return ParseBatch(source, b, BatchLimits{KeepOrder: 100})
}

// unshift takes slowKey out of the byte offsets the slow way's error
// gives for body.
func unshift(msg string, body []byte) string {
	brace := firstBrace(body)
	return regexp.MustCompile(`byte \d+`).ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "byte "))
		if brace >= 0 && n > brace+1 {
			n -= len(slowKey(body, brace))
		}
		return "byte " + strconv.Itoa(n)
	})
}

func firstBrace(b []byte) int {
	for i, c := range b {
		if c == '{' {
			return i
		}
	}
	return -1
}

func FuzzWebhookOnePass(f *testing.F) {
	for _, s := range webhookSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkOnePass(t, body)
		if _, _, ok := decodeWebhook(body); ok {
			for _, source := range []string{SourceAlertmanager, SourceGrafana} {
				fast, fastErr := ParseBatch(source, body, BatchLimits{KeepOrder: 100})
				slow, slowErr := parseSlowly(source, body)
				if (fastErr == nil) != (slowErr == nil) || (fastErr != nil && fastErr.Error() != unshift(slowErr.Error(), body)) || !reflect.DeepEqual(fast, slow) {
					t.Fatalf("%s: %+v, %v by the one pass; %+v, %v by readWebhook", source, fast, fastErr, slow, slowErr)
				}
			}
		}
	})
}
