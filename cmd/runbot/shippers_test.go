package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
)

// The seed's case study as a log shipper sends it: Fluent Bit ships JSON
// lines (format json_lines, kubernetes filter) from both pods of
// user-sync, one failing once a minute, the other logging healthy INFO
// records. The whole bot opens one incident, and its first card says
// the failures all come from one of the two replicas the catalog expects.
func TestFluentBitCaseStudyIsOneIncidentFromOnePod(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := engineConfig(t)
	cfg.RunbooksDir = t.TempDir()
	md := "---\nowner: team-identity\nreplicas: 2\n---\n1. Find the pod that fails: the incident's label breakdown names it.\n"
	if err := os.WriteFile(filepath.Join(cfg.RunbooksDir, "user-sync-service.md"), []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startBot(t, cfg, chat)
	body, err := os.ReadFile(filepath.Join("..", "..", "incidents", "alerts", "testdata", "shippers", "fluentbit-json_lines-k8s.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", b.url+"/api/v1/alerts/log", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json") // what Fluent Bit sends for json_lines, as for json
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"accepted":6,"distinct":1,"opened":1,"updated":0,"incident_ids":[1],"skipped":6,`
	if resp.StatusCode != 200 || !strings.HasPrefix(string(raw), want) {
		t.Fatalf("posting the shipper's lines: %d %s, want %s...", resp.StatusCode, raw, want)
	}
	const clue = "all 6 alerts carry pod; all from 1 of 2 replicas: user-sync-7d9f8b6c5-q8z1m"
	eventually(t, 10*time.Second, "the first card", func() (bool, string) {
		return chat.RootOf(1) != nil, fmt.Sprint(chat.Messages())
	})
	if c := chat.RootOf(1).Message.Card; c == nil || len(c.Labels) == 0 || c.Labels[0] != clue {
		t.Fatalf("the first card does not lead with %q: %+v", clue, c)
	}
}
