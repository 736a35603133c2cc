// Package selfmon is runbot watching itself: a dead-man's switch that
// opens an incident when the always-firing heartbeat alert stops coming
// (the pipeline Prometheus → Alertmanager → runbot is broken somewhere),
// and an alarm when chat messages stop leaving the outbox (runbot talks
// but nobody hears it). Each says so on the paths it still has.
package selfmon

import (
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Clock is the time as the watchers see it; tests move it by hand.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// roughly says a duration the way people say it: whole minutes once it is
// past a minute ("stuck for 7m"), seconds below.
func roughly(d time.Duration) string {
	if d >= time.Minute {
		d = d.Round(time.Minute)
	}
	return incidents.FormatDuration(d)
}
