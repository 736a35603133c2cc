package bot

import (
	"context"
	"log/slog"
	"time"
)

// Deadlines is the scheduler's view of the incidents' deadlines.
type Deadlines interface {
	// FireDue handles up to limit deadlines that are due and says how
	// many it handled.
	FireDue(ctx context.Context, limit int) (int, error)
	// NextDue is when the earliest pending deadline is due.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
}

// Scheduler fires deadlines (reminders, breaches, hypercare ends, repeat
// notices) when they come. The due times live in the database; the
// scheduler keeps one timer to the earliest, and is woken when a commit
// moves deadlines. Nothing is lost across restarts: what came due while
// runbot was down fires at start.
type Scheduler struct {
	deadlines Deadlines
	logger    *slog.Logger
	now       func() time.Time
	wake      chan struct{}
	// BatchSize is how many deadlines fire per transaction (default 100).
	BatchSize int
}

// NewScheduler returns a scheduler over the store's deadlines.
func NewScheduler(d Deadlines, logger *slog.Logger, now func() time.Time) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Scheduler{deadlines: d, logger: logger, now: now, wake: make(chan struct{}, 1), BatchSize: 100}
}

// Wake tells the scheduler that deadlines moved.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fires deadlines until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		fired := 0
		for ctx.Err() == nil {
			n, err := s.deadlines.FireDue(ctx, s.BatchSize)
			if err != nil {
				s.logger.Error("firing deadlines failed", "operation", "firing deadlines", "error", err)
				break
			}
			fired += n
			if n < s.BatchSize {
				break
			}
		}
		wait := time.Hour // a safety net; deadlines wake the scheduler
		next, ok, err := s.deadlines.NextDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.logger.Error("reading the next deadline failed", "operation", "firing deadlines", "error", err)
			wait = 10 * time.Second
		case ok:
			wait = min(max(next.Sub(s.now()), 0), time.Hour)
			if wait == 0 && fired == 0 {
				// Due by the clock but not fired (a clock step, the store's
				// millisecond precision): do not spin.
				wait = 10 * time.Millisecond
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.wake:
		}
	}
}
