package api_test

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shipperSend is what a shipper configured as the README says sends: to
// which path, framed and encoded how.
type shipperSend struct {
	path, contentType, file string
	gzip                    bool
}

// readmeBlocks returns the fenced blocks of a README section by language.
func readmeBlocks(t *testing.T, section string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+section+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", section)
	}
	s = s[i+len(section)+2:]
	if j := strings.Index(s, "\n### "); j >= 0 {
		s = s[:j]
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)```(\\w+)\n(.*?)```").FindAllStringSubmatch(s, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// The README's configuration for each shipper sends what runbot files:
// each snippet is read as the shipper reads it, and the body it makes
// (from the shipper's documented format, testdata/shippers) is posted.
func TestReadmeShipperSnippets(t *testing.T) {
	blocks := readmeBlocks(t, "### Log lines")
	var sends []shipperSend

	// Fluent Bit: "Key Value" lines of an [OUTPUT] section.
	fb := map[string]string{}
	for _, l := range strings.Split(blocks["ini"], "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), " "); ok && !strings.HasPrefix(k, "#") {
			fb[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	switch {
	case fb["name"] != "http":
		t.Errorf("Fluent Bit snippet: output %q, want http", fb["name"])
	case fb["format"] == "json":
		sends = append(sends, shipperSend{fb["uri"], "application/json", "fluentbit-json-k8s.json", fb["compress"] == "gzip"})
	case fb["format"] == "json_lines":
		// Fluent Bit types json_lines application/json, as it does json.
		sends = append(sends, shipperSend{fb["uri"], "application/json", "fluentbit-json_lines-k8s.ndjson", fb["compress"] == "gzip"})
	default:
		t.Errorf("Fluent Bit snippet: format %q, which runbot does not read", fb["format"])
	}

	// Vector: the http sink.
	var vec struct {
		Sinks map[string]struct {
			Type, URI, Method, Compression string
			Encoding                       struct{ Codec string }
			Framing                        struct{ Method string }
		}
	}
	if err := yaml.Unmarshal([]byte(blocks["yaml"]), &vec); err != nil || len(vec.Sinks) != 1 {
		t.Fatalf("Vector snippet: %v, %d sinks", err, len(vec.Sinks))
	}
	for _, sink := range vec.Sinks {
		u, err := url.Parse(sink.URI)
		switch {
		case err != nil || sink.Type != "http" || sink.Method != "post" || sink.Encoding.Codec != "json":
			t.Errorf("Vector snippet: %+v (%v), want an http sink posting the json codec", sink, err)
		case sink.Framing.Method == "":
			sends = append(sends, shipperSend{u.Path, "application/json", "vector-json-k8s.json", sink.Compression == "gzip"})
		case sink.Framing.Method == "newline_delimited":
			sends = append(sends, shipperSend{u.Path, "application/x-ndjson", "vector-ndjson-k8s.ndjson", sink.Compression == "gzip"})
		default:
			t.Errorf("Vector snippet: framing %q, which runbot does not read", sink.Framing.Method)
		}
	}

	// Logstash: the http output's settings.
	ls := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=>\s*"([^"]*)"`).FindAllStringSubmatch(blocks["ruby"], -1) {
		ls[m[1]] = m[2]
	}
	u, err := url.Parse(ls["url"])
	if err != nil || ls["http_method"] != "post" || ls["format"] != "json_batch" || !strings.Contains(blocks["ruby"], "http {") {
		t.Errorf("Logstash snippet: %v (%v), want the http output posting json_batch", ls, err)
	} else {
		sends = append(sends, shipperSend{u.Path, "application/json", "logstash-json_batch.json", false})
	}

	if len(sends) != 3 {
		t.Fatalf("%d snippets read, want one per shipper", len(sends))
	}
	for _, s := range sends {
		e := newIntakeEnv(t)
		body := shipperFile(t, s.file)
		h := map[string]string{"Content-Type": s.contentType}
		if s.gzip {
			body, h["Content-Encoding"] = gzipped(t, body), "gzip"
		}
		if code, raw, got := e.post(t, s.path, body, h); code != 200 || got.Opened == 0 {
			t.Errorf("%s as the README configures it (%s to %s): %d %s", s.file, s.contentType, s.path, code, raw)
		}
	}
}
