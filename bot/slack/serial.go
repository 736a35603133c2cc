package slack

import "sync"

// serial runs work for one key at a time, in the order it arrived: the
// events of a channel are answered at once but handled one after the
// other, so a comment and the /resolve typed after it land in that order
// (and five-whys answers in theirs).
type serial struct {
	mu     sync.Mutex
	queues map[string][]func()
}

func newSerial() *serial { return &serial{queues: map[string][]func(){}} }

func (s *serial) do(key string, f func()) {
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
