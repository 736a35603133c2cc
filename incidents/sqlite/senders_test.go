package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// TestTestsReceivedKeepsTheLastOfEachSource: a sender pressing Test again
// replaces its line; another source gets its own, the newest first.
func TestTestsReceivedKeepsTheLastOfEachSource(t *testing.T) {
	_, svc, clock := open(t)
	ctx := context.Background()
	record := func(source, receiver string) {
		t.Helper()
		if err := svc.RecordTest(ctx, incidents.TestReceived{Source: source, Receiver: receiver}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute)
	}
	record("grafana", "first")
	record("alertmanager", "am")
	record("grafana", "second")
	got, err := svc.TestsReceived(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Source != "grafana" || got[0].Receiver != "second" || got[1].Source != "alertmanager" ||
		!got[0].ReceivedAt.After(got[1].ReceivedAt) || !got[0].SentAt.IsZero() {
		t.Fatalf("tests received %+v, want grafana's second test, then alertmanager's", got)
	}
	list, err := svc.FindIncidents(ctx, incidents.IncidentFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("tests opened incidents: %d, %v", len(list), err)
	}
}
