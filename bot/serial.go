package bot

import "sync"

// Serial runs work for one key at a time, in the order it arrived. A
// platform answers each event at once and hands it to runbot through a
// Serial keyed by channel, so that a comment and the /resolve typed after
// it are handled in that order (and five-whys answers in theirs).
type Serial struct {
	mu     sync.Mutex
	queues map[string][]func()
}

// NewSerial returns an empty Serial.
func NewSerial() *Serial { return &Serial{queues: map[string][]func(){}} }

// Do queues f behind the work already queued for key and returns at once.
func (s *Serial) Do(key string, f func()) {
	s.mu.Lock()
	q, running := s.queues[key]
	s.queues[key] = append(q, f)
	s.mu.Unlock()
	if running {
		return
	}
	go func() {
		for {
			s.mu.Lock()
			q := s.queues[key]
			if len(q) == 0 {
				delete(s.queues, key)
				s.mu.Unlock()
				return
			}
			next := q[0]
			s.queues[key] = q[1:]
			s.mu.Unlock()
			next()
		}
	}()
}
