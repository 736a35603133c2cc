package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// HandlerSlot holds the handler a platform's Listen was given. Callbacks
// (slash commands, button presses) can arrive on HTTP before Listen has
// run; they wait a little for it rather than fail.
type HandlerSlot struct {
	mu    sync.Mutex
	h     Handler
	ready chan struct{}
}

// NewHandlerSlot returns an empty slot.
func NewHandlerSlot() *HandlerSlot { return &HandlerSlot{ready: make(chan struct{})} }

// Set fills the slot.
func (s *HandlerSlot) Set(h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// Wait returns the handler, waiting up to five seconds for one.
func (s *HandlerSlot) Wait(ctx context.Context) (Handler, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Second):
		return nil, errors.New("runbot is not listening yet")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h, nil
}

// Reconnect runs session until ctx ends, again after each failure, with a
// backoff from one second to one minute that starts over after a session
// that held for a minute. operation and what name it in the log.
func Reconnect(ctx context.Context, logger *slog.Logger, operation, what string, session func(context.Context) error) {
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		logger.Warn(what+" connection lost, reconnecting", "operation", operation, "retry_in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}
