package sqlite_test

import (
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/selfmon"
)

// The store implements the interfaces its consumers declare for
// themselves; a method that goes missing or changes is a build error here,
// not a surprise at wiring time.
var (
	_ web.Store        = (*sqlite.WebMessages)(nil)
	_ web.SessionStore = (*sqlite.Sessions)(nil)
	_ selfmon.Outbox   = (*sqlite.Outbox)(nil)
	_ selfmon.Poster   = (*sqlite.Routines)(nil)
)
