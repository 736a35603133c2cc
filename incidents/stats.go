package incidents

import "time"

// Stats are the figures runbot exposes as metrics, read from the store at
// scrape time so that they survive restarts and never drift from it. Every
// store answers them in this one shape, so that the metrics do not depend
// on which store runbot runs on.
type Stats struct {
	// Active counts active incidents by priority and state.
	Active map[Priority]map[State]int
	// Breaches counts breach events by the incident's priority now.
	Breaches map[Priority]int
	// Times are the TTA and TRS of every incident that has them.
	Times []IncidentTimes
}

// IncidentTimes is one incident's TTA and TRS; zero when not reached yet.
type IncidentTimes struct {
	Priority Priority
	Service  string
	TTA, TRS time.Duration
}
