package commands_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestMorningCheckColoursEveryActiveIncident: with more active incidents
// than the check details (the 200 most urgent), each service is coloured
// by all of them and a line counts those left out, as the store counts
// them: billing, none of whose incidents is detailed, is orange for the
// three it has restored and not resolved.
func TestMorningCheckColoursEveryActiveIncident(t *testing.T) {
	ctx := context.Background()
	clock := &manualClock{t: t0.Add(-30 * time.Hour)} // before the night: none of it is news
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now = clock.Now
	filed := 0
	file := func(service string, p incidents.Priority, n int) []int64 {
		t.Helper()
		var alerts []incidents.Alert
		for range n {
			filed++
			alerts = append(alerts, incidents.Alert{Source: "generic", Fingerprint: fmt.Sprintf("fp-%d", filed),
				Service: service, Title: "timeouts", Priority: p, Status: incidents.AlertFiring})
		}
		got, err := svc.Ingest(ctx, alerts)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, g := range got {
			ids = append(ids, g.IncidentID)
		}
		return ids
	}
	file("checkout", incidents.P1, 1)
	quiet := append(file("search", incidents.P5, 200), file("billing", incidents.P5, 10)...)
	restored := file("billing", incidents.P5, 3)
	clock.Set(t0.Add(-29 * time.Hour))
	for _, id := range append(quiet, restored...) {
		if _, err := svc.Acknowledge(ctx, id, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range restored {
		if _, err := svc.Mitigate(ctx, id, "bob", "rolled back"); err != nil {
			t.Fatal(err)
		}
	}

	router := &commands.Router{Incidents: svc, Policy: pol, Location: time.UTC}
	m, err := router.MorningCheck(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range m.Services {
		got = append(got, fmt.Sprintf("%s %s: %d reasons, the last %q", s.Service, s.Colour, len(s.Reasons), s.Reasons[len(s.Reasons)-1]))
	}
	want := []string{
		`checkout red: 3 reasons, the last "#1 TRS breached by 1d02h (target 4h00m)"`,
		`billing orange: 1 reasons, the last "13 more active incidents: 3 orange, 10 green"`,
		`search green: 200 reasons, the last "1 more active incident: 1 green"`, // 199 detailed
	}
	if !slices.Equal(got, want) {
		t.Fatalf("services:\n got %q\nwant %q", got, want)
	}
	if c := m.Counts; c[digest.Red] != 1 || c[digest.Orange] != 1 || c[digest.Green] != 1 {
		t.Fatalf("counts %v, want one service of each colour", c)
	}
}
