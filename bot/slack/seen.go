package slack

import (
	"sync"
	"time"
)

// seenEvents remembers recent event ids: Slack delivers an event again
// when it did not see the answer in time (X-Slack-Retry-Num), and a
// comment or a command must count once.
type seenEvents struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string
	max   int
	ttl   time.Duration
}

func newSeenEvents(max int, ttl time.Duration) *seenEvents {
	return &seenEvents{at: map[string]time.Time{}, max: max, ttl: ttl}
}

// first reports whether id is seen for the first time, and remembers it.
func (s *seenEvents) first(id string, now time.Time) bool {
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
