package runweek

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/rota"
)

// Routine is a post runbot makes on a schedule: the morning check on
// working days, the handover at the end of each RUN week.
type Routine struct {
	Name string
	// Next is the first moment the routine is due strictly after t.
	Next func(t time.Time) time.Time
	// Grace is how late a post is still worth making: after an outage, a
	// morning check at 10:30 still helps, the one of yesterday does not.
	Grace time.Duration
	// Compose writes the post due at due, as things stand at now.
	Compose func(ctx context.Context, due, now time.Time) (Post, error)
}

// Post is what a routine says, where.
type Post struct {
	Channel  string // "" for the platforms' default channel
	Text     string
	Audience incidents.Audience
}

// RoutineStore records each routine's posts so each is made once.
type RoutineStore interface {
	Last(ctx context.Context, name string) (time.Time, error)
	Skip(ctx context.Context, name string, due time.Time) error
	Post(ctx context.Context, name string, due time.Time, channel, text string, audience incidents.Audience) (bool, error)
}

// Routines runs routines on their schedules.
type Routines struct {
	store  RoutineStore
	list   []Routine
	logger *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewRoutines builds a runner of routines.
func NewRoutines(store RoutineStore, logger *slog.Logger, list ...Routine) *Routines {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Routines{store: store, list: list, logger: logger, Now: time.Now}
}

// RunDue makes the posts that are due and returns when the next one is.
// A routine that never ran starts counting now: installing runbot at 15:00
// does not post the morning check of 09:00.
func (r *Routines) RunDue(ctx context.Context) (next time.Time, err error) {
	now := r.Now()
	for _, rt := range r.list {
		last, err := r.store.Last(ctx, rt.Name)
		if err != nil {
			return time.Time{}, err
		}
		if last.IsZero() {
			if err := r.store.Skip(ctx, rt.Name, now); err != nil {
				return time.Time{}, err
			}
			last = now
		}
		for range 1000 { // bounded: a schedule that never leaves the past is a bug, not a reason to spin
			due := rt.Next(last)
			if due.IsZero() {
				break
			}
			if due.After(now) {
				if next.IsZero() || due.Before(next) {
					next = due
				}
				break
			}
			if late := now.Sub(due); late > rt.Grace {
				r.logger.Warn("routine post skipped: too late to be useful", "operation", "posting "+rt.Name,
					"due", due, "late", late.Round(time.Second))
				if err := r.store.Skip(ctx, rt.Name, due); err != nil {
					return time.Time{}, err
				}
			} else {
				post, err := rt.Compose(ctx, due, now)
				if err != nil {
					return time.Time{}, fmt.Errorf("composing %s: %w", rt.Name, err)
				}
				posted, err := r.store.Post(ctx, rt.Name, due, post.Channel, post.Text, post.Audience)
				if err != nil {
					return time.Time{}, err
				}
				if posted {
					r.logger.Info("routine posted", "operation", "posting "+rt.Name, "due", due)
				}
			}
			last = due
		}
	}
	return next, nil
}

// Run posts routines when due until ctx ends. Wall-clock waits are capped
// so that a suspended machine or a clock step is caught up soon after.
func (r *Routines) Run(ctx context.Context) error {
	for {
		wait := 10 * time.Minute
		next, err := r.RunDue(ctx)
		switch {
		case err != nil:
			r.logger.Error("routine posts failed; retrying in a minute", "operation", "posting routines", "error", err)
			wait = time.Minute
		case !next.IsZero():
			wait = min(wait, max(next.Sub(r.Now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// MorningTimes schedules a post on every working day at a time of day.
func MorningTimes(cal rota.Calendar, at rota.Clock) func(time.Time) time.Time {
	loc := cal.Location
	if loc == nil {
		loc = time.UTC
	}
	return func(t time.Time) time.Time {
		d := rota.DateOf(t.In(loc))
		for range 400 { // a year of holidays and weekends at most
			if due := d.At(at, loc); due.After(t) && cal.WorkingDay(d) {
				return due
			}
			d = d.AddDays(1)
		}
		return time.Time{}
	}
}

// HandoverTimes schedules a post at each handover of a rotation.
func HandoverTimes(r rota.Rotation) func(time.Time) time.Time {
	return func(t time.Time) time.Time {
		if len(r.Members) == 0 {
			return time.Time{}
		}
		return r.Scheduled(t).Until
	}
}
