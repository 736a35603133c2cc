package runweek_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/rota"
	"github.com/runbot-dev/runbot/runweek"
)

// TestRoutinesPostOnceOnTheirSchedule: the morning check goes out at
// 09:00 on working days only, once, survives a restart without repeating,
// and one missed by more than its grace is skipped; the handover goes out
// at the week's handover, addressed to both people.
func TestRoutinesPostOnceOnTheirSchedule(t *testing.T) {
	ctx := context.Background()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := sqlite.NewRoutines(db, []string{"chat"})
	cal := rota.Calendar{Location: paris, Holidays: []rota.Date{{Year: 2026, Month: time.December, Day: 1}}}
	start, _ := rota.ParseDate("2026-11-23")
	rotation := rota.Rotation{Members: []string{"alice", "bob"}, Start: start, Handover: rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}, Location: paris}

	var composed []string
	morning := runweek.Routine{Name: "morning_check", Next: runweek.MorningTimes(cal, rota.Clock{Hour: 9}), Grace: 3 * time.Hour,
		Compose: func(_ context.Context, due, now time.Time) (runweek.Post, error) {
			composed = append(composed, "morning "+due.In(paris).Format("Mon 02 15:04"))
			return runweek.Post{Channel: "team", Text: "morning check of " + due.In(paris).Format("Mon 02"), Audience: incidents.Audience{Users: []string{"alice"}}}, nil
		}}
	handover := runweek.Routine{Name: "handover", Next: runweek.HandoverTimes(rotation), Grace: 24 * time.Hour,
		Compose: func(_ context.Context, due, now time.Time) (runweek.Post, error) {
			composed = append(composed, "handover "+due.In(paris).Format("Mon 02 15:04"))
			return runweek.Post{Channel: "team", Text: "handover", Audience: incidents.Audience{Users: []string{"alice", "bob"}}}, nil
		}}
	var now time.Time
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, paris) }
	run := func(t0 time.Time, wantNext time.Time) {
		t.Helper()
		now = t0
		r := runweek.NewRoutines(store, nil, morning, handover) // a new runner each time: as after a restart
		r.Now = func() time.Time { return now }
		next, err := r.RunDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !next.Equal(wantNext) {
			t.Fatalf("at %s the next post is due %s, want %s", t0, next.In(paris), wantNext)
		}
	}
	run(at(27, 10, 0), at(30, 9, 0))                                                            // Friday: first start counts from now, nothing posted
	run(at(28, 9, 0), at(30, 9, 0))                                                             // Saturday 09:00 is no working day
	run(at(30, 9, 0), time.Date(2026, 12, 2, 9, 0, 0, 0, paris))                                // Monday: morning check and handover; Tuesday 1 Dec is a holiday
	run(at(30, 9, 5), time.Date(2026, 12, 2, 9, 0, 0, 0, paris))                                // again after a restart: nothing twice
	run(time.Date(2026, 12, 3, 13, 0, 0, 0, paris), time.Date(2026, 12, 4, 9, 0, 0, 0, paris))  // down Wed-Thu morning: Wed's skipped, Thu's 4 h late skipped too
	run(time.Date(2026, 12, 4, 11, 30, 0, 0, paris), time.Date(2026, 12, 7, 9, 0, 0, 0, paris)) // Friday's, 2h30 late, still worth it

	want := []string{"morning Mon 30 09:00", "handover Mon 30 09:00", "morning Fri 04 09:00"}
	if strings.Join(composed, "; ") != strings.Join(want, "; ") {
		t.Fatalf("composed %q, want %q", composed, want)
	}
	outbox := sqlite.NewOutbox(db)
	var texts []string
	for {
		it, err := outbox.Next(ctx, incidents.Lane{Platform: "chat", Channel: "team"})
		if err != nil {
			t.Fatal(err)
		}
		if it == nil {
			break
		}
		texts = append(texts, it.Text+" → "+strings.Join(it.Audience.Users, ","))
		if err := outbox.Delivered(ctx, it, "ref"); err != nil {
			t.Fatal(err)
		}
	}
	wantTexts := []string{"morning check of Mon 30 → alice", "handover → alice,bob", "morning check of Fri 04 → alice"}
	if strings.Join(texts, "; ") != strings.Join(wantTexts, "; ") {
		t.Fatalf("posted %q, want %q", texts, wantTexts)
	}
}
