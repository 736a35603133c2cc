package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
	"github.com/runbot-dev/runbot/incidents/postgres"
	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// remindersDue is how many acknowledge reminders fall due at once in
// each iteration of BenchmarkRemindersDue.
const remindersDue = 2000

// BenchmarkRemindersDue opens 2,000 unacknowledged P1 incidents, moves
// the clock past their acknowledge reminders so that all are due at
// once, and measures how fast schedulers drain them as runbot's
// scheduler does (FireDue, 100 a transaction, until none is left): each
// reminder marks its deadline fired, records its event and queues its
// chat message in the same transaction. On PostgreSQL with one
// scheduler and with two, each on a pool of its own as two replicas
// are, on a server of the benchmark's own with durability on
// (synchronous_commit, fsync); on SQLite (one process: one scheduler)
// with db_sync normal and full, for reference.
//
//	go test -run '^$' -bench RemindersDue -benchtime 3x ./incidents/postgres
func BenchmarkRemindersDue(b *testing.B) {
	ctx := context.Background()
	policy := incidents.DefaultPolicy()
	// One reminder per incident due at the moment measured (half of the
	// acknowledge target), none of the others; each its own message,
	// not a storm's digest.
	policy.SLA[incidents.P1] = incidents.Target{Ack: time.Hour, Restore: 24 * time.Hour}
	policy.AckReminders = []int{50}
	policy.Storm = incidents.StormPolicy{}
	// Each iteration's incidents open a day before the previous ones':
	// the deadlines of the others are not due at its moment.
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	iteration := 0

	// One server for both PostgreSQL cases, stopped at the benchmark's end.
	pgURL := pgtest.Durable(b)
	for _, c := range []struct {
		name       string
		schedulers int
		open       func(b *testing.B) engine.Store
	}{
		{"postgres/schedulers=1", 1, nil},
		{"postgres/schedulers=2", 2, nil},
		{"sqlite-normal/schedulers=1", 1, sqliteStore(sqlite.SyncNormal)},
		{"sqlite-full/schedulers=1", 1, sqliteStore(sqlite.SyncFull)},
	} {
		b.Run(c.name, func(b *testing.B) {
			stores := make([]engine.Store, c.schedulers)
			if c.open == nil {
				for i := range stores {
					db, err := postgres.Open(ctx, pgURL, postgres.Options{})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { db.Close() })
					stores[i] = db
				}
			} else {
				stores[0] = c.open(b)
			}
			opener := engine.New(stores[0], policy)
			opener.Platforms = []string{"chat"}
			var drained time.Duration
			for range b.N {
				b.StopTimer()
				iteration++
				opened := base.Add(-time.Duration(iteration) * 24 * time.Hour)
				opener.Now = func() time.Time { return opened }
				for i := 0; i < remindersDue; i += 100 {
					batch := make([]incidents.Alert, 100)
					for j := range batch {
						batch[j] = incidents.Alert{Source: "generic", Fingerprint: fmt.Sprintf("due-%d-%d", iteration, i+j), Service: fmt.Sprintf("svc-%d", j%20),
							Title: "payments failing", Priority: incidents.P1, Status: incidents.AlertFiring}
					}
					if _, err := opener.Ingest(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				due := opened.Add(31 * time.Minute)
				services := make([]*engine.Service, len(stores))
				for i, st := range stores {
					services[i] = engine.New(st, policy)
					services[i].Platforms = []string{"chat"}
					services[i].Now = func() time.Time { return due }
				}
				b.StartTimer()
				t0 := time.Now()
				fired, err := drain(ctx, services)
				drained += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				// More would be a reminder fired twice; fewer, one lost.
				if fired != remindersDue {
					b.Fatalf("%d deadlines fired, want the %d reminders due", fired, remindersDue)
				}
			}
			b.ReportMetric(float64(remindersDue*b.N)/drained.Seconds(), "reminders/s")
		})
	}
}

// drain runs one scheduler per service, each firing due deadlines 100 a
// transaction until it finds none left, and returns how many they fired.
func drain(ctx context.Context, services []*engine.Service) (int, error) {
	var mu sync.Mutex
	total := 0
	var firstErr error
	var wg sync.WaitGroup
	for _, svc := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := svc.FireDue(ctx, 100)
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil || n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	return total, firstErr
}

// sqliteStore opens a SQLite store with a db_sync in the benchmark's
// temporary directory.
func sqliteStore(sync string) func(b *testing.B) engine.Store {
	return func(b *testing.B) engine.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "runbot.db"), sqlite.Options{Synchronous: sync})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
}
