package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/mattermost"
	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
	"github.com/runbot-dev/runbot/incidents/postgres"
	"github.com/runbot-dev/runbot/incidents/postmortem"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/lease"
	"github.com/runbot-dev/runbot/redact"
	"github.com/runbot-dev/runbot/runweek"
	"github.com/runbot-dev/runbot/selfmon"
)

// service is the incident service as the bot uses it, on either store.
type service interface {
	commands.Incidents
	commands.Threads
	api.Incidents
	bot.IncidentReader
	bot.Deadlines
	web.Incidents
	selfmon.Incidents
	postmortem.Store
	Stats(ctx context.Context) (incidents.Stats, error)
}

// askStore is the asks as the bot uses them, on either store.
type askStore interface {
	commands.Asks
	commands.AskStore
	bot.AskStore
	Stats(ctx context.Context) (incidents.AskStats, error)
}

// outboxStore is the outbox as the dispatcher, self-monitoring and the
// metrics use it, on either store.
type outboxStore interface {
	bot.Outbox
	selfmon.Outbox
	Pending(ctx context.Context) (n int, oldest time.Duration, err error)
}

// auditStore is the audit log as the commands write it and the API and
// the console read it (the console's reading is the API's), on either
// store.
type auditStore interface {
	commands.Audit
	api.AuditLog
}

// routineStore keeps the routines' posts and self-monitoring's alarms.
type routineStore interface {
	runweek.RoutineStore
	selfmon.Poster
}

// store is the configuration's database as the bot and its commands use
// it, whichever it is: SQLite or PostgreSQL. What only one of them has is
// nil on the other (freeSpace: a PostgreSQL server's disk is not ours to
// watch).
type store struct {
	close     func() error
	check     func(context.Context) error
	secret    func(ctx context.Context, name string) (string, error)
	freeSpace func() (uint64, error)
	overrides runweek.Store
	// service builds the incident service under a policy; the engine is
	// the same service's settings (platforms, catalog, clock).
	service  func(incidents.Policy) (service, *engine.Service)
	asks     askStore
	outbox   outboxStore
	web      web.Store
	sessions web.SessionStore
	audit    auditStore
	routines func(platforms []string) routineStore
	cursor   func(key string) mattermost.Cursor
	// heartbeats keeps the dead-man's switch's last heartbeat, which any
	// replica may hear and one watches.
	heartbeats selfmon.HeartbeatStore
	// leases elect the replica that does what must happen once; nil on
	// SQLite, whose one process does it all.
	leases lease.Store
	// slackEvents tells Slack's repeats of an event across replicas, and
	// consoleRelay carries the console's live events to the other
	// replicas' pages; nil on SQLite, whose one process does both in
	// memory.
	slackEvents  slack.Dedup
	consoleRelay web.Relay
}

// openStore opens the configuration's database, SQLite or PostgreSQL by
// its db setting. The bot and the commands that read its database open it
// here, with the same settings. opts.Logger, when set, is told what was
// opened.
func openStore(ctx context.Context, cfg config.Config, opts sqlite.Options) (*store, error) {
	if cfg.Postgres() {
		return openPostgres(ctx, cfg, opts)
	}
	return openSQLite(ctx, cfg, opts)
}

// openSQLiteDB opens the SQLite database of the configuration, with its
// durability setting; the doctor opens it here too.
func openSQLiteDB(ctx context.Context, cfg config.Config, opts sqlite.Options) (*sqlite.DB, error) {
	opts.Synchronous = strings.ToUpper(cfg.DBSync)
	return sqlite.Open(ctx, cfg.DB, opts)
}

func openSQLite(ctx context.Context, cfg config.Config, opts sqlite.Options) (*store, error) {
	db, err := openSQLiteDB(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if opts.Logger != nil {
		pragmas, err := sqlite.Pragmas(ctx, db)
		if err != nil {
			db.Close()
			return nil, err
		}
		opts.Logger.Info("database ready", "operation", "opening database", "path", cfg.DB,
			"journal_mode", pragmas["journal_mode"], "synchronous", pragmas["synchronous"])
	}
	return &store{
		close: db.Close, check: db.Check, secret: db.Secret, freeSpace: db.FreeSpace, overrides: sqlite.NewOverrides(db),
		service: func(p incidents.Policy) (service, *engine.Service) {
			svc := sqlite.NewIncidentService(db, p)
			return svc, svc.Service
		},
		asks: sqlite.NewAsks(db), outbox: sqlite.NewOutbox(db), web: sqlite.NewWebMessages(db, web.Name), sessions: sqlite.NewSessions(db),
		audit:      sqlite.NewAudit(db),
		routines:   func(platforms []string) routineStore { return sqlite.NewRoutines(db, platforms) },
		cursor:     func(key string) mattermost.Cursor { return sqlite.NewCursor(db, key) },
		heartbeats: sqlite.NewHeartbeats(db),
	}, nil
}

func openPostgres(ctx context.Context, cfg config.Config, opts sqlite.Options) (*store, error) {
	db, err := postgres.Open(ctx, cfg.DB, postgres.Options{Logger: opts.Logger, Changed: opts.Changed})
	if err != nil {
		// The URL said with its password masked: pgx's own errors never
		// quote it (postgres.Open says less when the URL does not parse).
		return nil, fmt.Errorf("opening database %s: %w", redact.URL(cfg.DB), err)
	}
	if log := opts.Logger; log != nil {
		log.Info("database ready", "operation", "opening database", "url", redact.URL(cfg.DB), "store", "postgresql")
		if cfg.DBSync != "" && !strings.EqualFold(cfg.DBSync, "normal") {
			// PostgreSQL's durability is the server's (synchronous_commit),
			// not a setting of runbot's.
			log.Info("db_sync is ignored on PostgreSQL: its durability is the server's synchronous_commit",
				"operation", "opening database", "db_sync", cfg.DBSync)
		}
	}
	return &store{
		close: db.Close, check: db.Check, secret: db.Secret, overrides: postgres.NewOverrides(db),
		service: func(p incidents.Policy) (service, *engine.Service) {
			svc := postgres.NewIncidentService(db, p)
			return svc, svc.Service
		},
		asks: postgres.NewAsks(db), outbox: postgres.NewOutbox(db), web: postgres.NewWebMessages(db, web.Name), sessions: postgres.NewSessions(db),
		audit:       postgres.NewAudit(db),
		slackEvents: postgres.NewSeenEvents(db, slack.Name), consoleRelay: postgres.NewNotices(db),
		routines:   func(platforms []string) routineStore { return postgres.NewRoutines(db, platforms) },
		cursor:     func(key string) mattermost.Cursor { return postgres.NewCursor(db, key) },
		leases:     postgres.NewLeases(db),
		heartbeats: postgres.NewHeartbeats(db),
	}, nil
}
