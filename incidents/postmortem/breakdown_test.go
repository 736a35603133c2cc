package postmortem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// paymentsFacts is the incident 37 error lines of payments make: 18 of
// them name the pod that wrote them, always the same one, each with its
// own trace, request or user id.
func paymentsFacts(t *testing.T) Facts {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "testdata", "payments-502.log"))
	if err != nil {
		t.Fatal(err)
	}
	as, err := alerts.ParseLog(body)
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 11, 24, 8, 1, 12, 0, time.UTC)
	p := incidents.DefaultPolicy()
	inc, events := incidents.Open(as[0], opened, p)
	inc.ID = 51
	for i, a := range as[1:] {
		events = append(events, inc.Join(a, opened.Add(time.Duration(i+1)*7*time.Second), p)...)
	}
	inc.Timeline = events
	return Facts{Incident: inc, Policy: p, Now: opened.Add(time.Hour)}
}

// impactOf is the draft's Impact section.
func impactOf(t *testing.T, md string) string {
	t.Helper()
	_, rest, ok := strings.Cut(md, "## Impact\n")
	if !ok {
		t.Fatalf("no Impact section:\n%s", md)
	}
	impact, _, _ := strings.Cut(rest, "\n## ")
	return impact
}

// TestDraftSaysHowManyAlertsCarryALabel: the draft said "×18 (100%)" of
// a label 18 of 37 alerts carried, and listed every trace id.
func TestDraftSaysHowManyAlertsCarryALabel(t *testing.T) {
	impact := impactOf(t, Template(paymentsFacts(t)))
	if !strings.Contains(impact, "- 18 of 37 alerts carry pod_id; all 18 from one pod: payments-7d9f8b6c5-x2k4p\n") {
		t.Errorf("the impact does not say how many alerts carry pod_id:\n%s", impact)
	}
	for _, noise := range []string{"100%", "trace_id", "request_id", "user_id", "| level", "| service"} {
		if strings.Contains(impact, noise) {
			t.Errorf("the impact shows %q:\n%s", noise, impact)
		}
	}
}

// TestDraftGivesTheReplicasClue: with the catalog's replicas, the draft
// says the alerts came from one of them, as the page and the chat did.
func TestDraftGivesTheReplicasClue(t *testing.T) {
	f := paymentsFacts(t)
	f.Replicas = 4
	impact := impactOf(t, Template(f))
	if !strings.Contains(impact, "- 18 of 37 alerts carry pod_id; all 18 from 1 of 4 replicas: payments-7d9f8b6c5-x2k4p\n") {
		t.Errorf("the impact lacks the replicas clue:\n%s", impact)
	}
}
