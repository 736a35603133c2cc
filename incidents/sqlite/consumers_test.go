package sqlite_test

import (
	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/runweek"
	"github.com/runbot-dev/runbot/selfmon"
)

// The store implements the interfaces its consumers declare for
// themselves, each whole: a method that goes missing or changes is a build
// error here, not a feature that switches itself off at run time.
var (
	_ commands.Incidents   = (*sqlite.IncidentService)(nil)
	_ commands.Threads     = (*sqlite.IncidentService)(nil)
	_ commands.Asks        = (*sqlite.Asks)(nil)
	_ commands.AskStore    = (*sqlite.Asks)(nil)
	_ api.Incidents        = (*sqlite.IncidentService)(nil)
	_ bot.IncidentReader   = (*sqlite.IncidentService)(nil)
	_ bot.Outbox           = (*sqlite.Outbox)(nil)
	_ bot.Deadlines        = (*sqlite.IncidentService)(nil)
	_ bot.AskStore         = (*sqlite.Asks)(nil)
	_ web.Incidents        = (*sqlite.IncidentService)(nil)
	_ web.Store            = (*sqlite.WebMessages)(nil)
	_ web.SessionStore     = (*sqlite.Sessions)(nil)
	_ selfmon.Outbox       = (*sqlite.Outbox)(nil)
	_ selfmon.Poster       = (*sqlite.Routines)(nil)
	_ selfmon.Incidents    = (*sqlite.IncidentService)(nil)
	_ runweek.Store        = (*sqlite.Overrides)(nil)
	_ runweek.RoutineStore = (*sqlite.Routines)(nil)
)
