package bot

import (
	"context"
	"sync"
	"time"
)

// Seen remembers recent event ids: chat platforms deliver an event again
// when they did not see it answered in time, or after a reconnect, and a
// comment or a command must count once.
type Seen struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string
	max   int
	ttl   time.Duration
}

// NewSeen remembers up to max ids, each for ttl.
func NewSeen(max int, ttl time.Duration) *Seen {
	return &Seen{at: map[string]time.Time{}, max: max, ttl: ttl}
}

// First reports whether id is seen for the first time, and remembers it.
// The empty id is always new.
func (s *Seen) First(id string, now time.Time) bool {
	if id == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.at[id]; ok && now.Sub(t) < s.ttl {
		return false
	}
	s.at[id] = now
	s.order = append(s.order, id)
	for len(s.order) > s.max {
		delete(s.at, s.order[0])
		s.order = s.order[1:]
	}
	return true
}

// Claim is First for a platform that may be given a shared store of
// event ids instead (several replicas): in memory it never fails.
func (s *Seen) Claim(_ context.Context, id string, now time.Time) (bool, error) {
	return s.First(id, now), nil
}
