package postgres

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// The metrics' figures do not depend on the store: the same incidents,
// acknowledged and mitigated at the same instants, give the same Stats
// on PostgreSQL as on SQLite.
func TestStatsMatchSQLite(t *testing.T) {
	ctx := context.Background()
	pg := NewIncidentService(openDB(t, cluster.DB(t)), incidents.DefaultPolicy())
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	sl := sqlite.NewIncidentService(lite, incidents.DefaultPolicy())

	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	stats := func(s interface {
		Ingest(context.Context, []incidents.Alert) ([]incidents.Ingested, error)
		Acknowledge(context.Context, int64, string) (*incidents.Incident, error)
		Mitigate(context.Context, int64, string, string) (*incidents.Incident, error)
		Stats(context.Context) (incidents.Stats, error)
	}, setNow func(time.Time)) incidents.Stats {
		t.Helper()
		var ids []int64
		for i, a := range []incidents.Alert{alert("a"), alert("b"), alert("c")} {
			setNow(start.Add(time.Duration(i) * time.Second))
			if i == 2 {
				a.Severity, a.Service = "info", "billing"
			}
			r, err := s.Ingest(ctx, []incidents.Alert{a})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r[0].IncidentID)
		}
		setNow(start.Add(90*time.Second + 250*time.Millisecond))
		if _, err := s.Acknowledge(ctx, ids[0], "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acknowledge(ctx, ids[2], "bob"); err != nil {
			t.Fatal(err)
		}
		setNow(start.Add(10 * time.Minute))
		if _, err := s.Mitigate(ctx, ids[0], "alice", ""); err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(st.Times, func(a, b incidents.IncidentTimes) int { return int(a.TTA - b.TTA) })
		return st
	}
	want := stats(sl, func(at time.Time) { sl.Now = func() time.Time { return at } })
	got := stats(pg, func(at time.Time) { pg.Now = func() time.Time { return at } })
	if len(want.Times) != 2 || len(want.Active) == 0 {
		t.Fatalf("SQLite's stats are not what the scenario makes: %+v", want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PostgreSQL's stats differ from SQLite's:\n got  %+v\n want %+v", got, want)
	}
}
