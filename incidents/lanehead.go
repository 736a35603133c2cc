package incidents

import "time"

// LaneHead is the first message waiting in a lane: the one the dispatcher
// must deliver before any other of that lane, so the one holding the lane
// up when delivery is stuck. The store reads it and self-monitoring judges
// it, so it is declared here rather than by either.
type LaneHead struct {
	Lane
	ID        int64
	CreatedAt time.Time
	Attempts  int
	LastError string // why the last try failed; "" when none failed yet
	Pending   int    // messages waiting in the lane, the head included
}
