package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Two replicas claiming the same event id: one wins. The same id on
// another platform is another event. A day later the id is forgotten,
// pruned by the claims that came since.
func TestSeenEventsAreClaimedOnceAcrossReplicasAndForgottenAfterADay(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	var replicas [2]*SeenEvents
	for i := range replicas {
		db, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		replicas[i] = NewSeenEvents(db, "slack")
	}
	claim := func(s *SeenEvents, id string, at time.Time) bool {
		t.Helper()
		first, err := s.Claim(ctx, id, at)
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	if !claim(replicas[0], "Ev1", t0) {
		t.Fatal("the first claim of Ev1 lost")
	}
	if claim(replicas[1], "Ev1", t0) || claim(replicas[0], "Ev1", t0.Add(time.Minute)) {
		t.Fatal("a second claim of Ev1 won: the event would be handled twice")
	}
	other := NewSeenEvents(replicas[0].db, "mattermost")
	if !claim(other, "Ev1", t0) {
		t.Fatal("Ev1 of another platform lost to slack's")
	}
	if !claim(replicas[1], "", t0) || !claim(replicas[1], "", t0) {
		t.Fatal("an event without an id lost: it must always be handled")
	}

	later := t0.Add(seenKeep + time.Hour)
	for i := range seenPruneEvery {
		claim(replicas[0], fmt.Sprintf("Later%d", i), later)
	}
	if !claim(replicas[1], "Ev1", later) {
		t.Fatal("Ev1 is remembered after a day: seen events are never pruned")
	}
	if claim(replicas[1], "Later0", later) {
		t.Fatal("an event of the last day was pruned")
	}
}
