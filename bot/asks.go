package bot

import (
	"context"
	"log/slog"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// AskStore is what the ask reminder needs from the store.
type AskStore interface {
	NextDue(ctx context.Context) (time.Time, bool, error)
	RemindDue(ctx context.Context, who func(time.Time) string, text func(*incidents.Ask) string) (int, error)
}

// AskReminder calls the RUN person in the thread of an ask nobody from
// the team answered in time. One timer to the earliest due ask, woken by
// commits, like the deadline scheduler.
type AskReminder struct {
	store  AskStore
	who    func(time.Time) string
	logger *slog.Logger
	wake   chan struct{}
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Location is the team's timezone, for the times in reminders.
	Location *time.Location
	// Emoji is the reaction that answers an ask ("" for any).
	Emoji string
}

// NewAskReminder builds an AskReminder; who names the person to call at
// a moment.
func NewAskReminder(store AskStore, who func(time.Time) string, logger *slog.Logger) *AskReminder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &AskReminder{store: store, who: who, logger: logger, wake: make(chan struct{}, 1), Now: time.Now, Location: time.UTC}
}

// Wake tells the reminder the asks changed.
func (r *AskReminder) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run reminds until ctx ends.
func (r *AskReminder) Run(ctx context.Context) error {
	for {
		if _, err := r.RemindDue(ctx); err != nil && ctx.Err() == nil {
			r.logger.Error("reminding asks failed", "operation", "reminding asks", "error", err)
		}
		wait := time.Minute
		if at, ok, err := r.store.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(at.Sub(r.Now()), 0))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-r.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// RemindDue reminds every ask due now.
func (r *AskReminder) RemindDue(ctx context.Context) (int, error) {
	reaction := "a reaction"
	if r.Emoji != "" {
		reaction = "a :" + r.Emoji + ": reaction"
	}
	return r.store.RemindDue(ctx, r.who, func(a *incidents.Ask) string {
		return "⏳ nobody from the team has answered " + a.From + " yet (asked " + a.AskedAt.In(r.Location).Format("Mon 15:04 MST") +
			"): can you take it? A reply here or " + reaction + " marks it answered; /triage lists the open asks."
	})
}
