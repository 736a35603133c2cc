package runweek_test

import (
	"context"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/runbot-dev/runbot/rota"
	"github.com/runbot-dev/runbot/runweek"
)

type memStore struct{ list map[string][]rota.Override }

func (m *memStore) Add(_ context.Context, name string, l []rota.Override) error {
	m.list[name] = append(m.list[name], l...)
	return nil
}

func (m *memStore) List(_ context.Context, name string, _ time.Time) ([]rota.Override, error) {
	return m.list[name], nil
}

// TestResponder: the RUN person in working hours, the on-call person at
// night and on weekends, an override set through Duty wins.
func TestResponder(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	start, _ := rota.ParseDate("2026-11-23")
	monday9 := rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}
	d := runweek.New(rota.Rotation{Members: []string{"alice", "bob"}, Start: start, Handover: monday9, Location: paris},
		rota.Rotation{Members: []string{"night-owl", "early-bird"}, Start: start, Handover: monday9, Location: paris},
		rota.Calendar{Location: paris}, &memStore{list: map[string][]rota.Override{}}, "fallback")
	ctx := context.Background()
	at := func(day, h int) time.Time { return time.Date(2026, 11, day, h, 0, 0, 0, paris) }
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{at(24, 10), "alice"},      // Tuesday, working
		{at(24, 23), "night-owl"},  // Tuesday night
		{at(28, 23), "night-owl"},  // Saturday night
		{at(30, 8), "night-owl"},   // Monday before the handover and before work
		{at(30, 10), "bob"},        // the new RUN week
		{at(30, 20), "early-bird"}, // the new on-call week
	} {
		if got := d.Responder(tc.t); got != tc.want {
			t.Errorf("Responder(%s) = %q, want %q", tc.t, got, tc.want)
		}
	}
	if _, err := d.Set(ctx, "carol", at(24, 9), at(25, 9), "alice", "cover"); err != nil {
		t.Fatal(err)
	}
	if got := d.Responder(at(24, 11)); got != "carol" {
		t.Errorf("with an override: %q, want carol", got)
	}
	if _, err := d.Set(ctx, "carol", at(24, 9), at(24, 9), "alice", ""); err == nil {
		t.Error("an override ending when it starts was accepted")
	}
	none := runweek.New(rota.Rotation{}, rota.Rotation{}, rota.Calendar{}, &memStore{list: map[string][]rota.Override{}}, "rita")
	if got := none.Responder(at(24, 23)); got != "rita" {
		t.Errorf("without rotations, run_person: %q", got)
	}
	if _, err := none.Swap(ctx, "a", "b", "x", at(24, 10)); err == nil {
		t.Error("a swap without a rotation was accepted")
	}
}
