package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// printPostmortem is "runbot postmortem ID": the incident's latest draft
// (or --version N) as markdown on stdout, read from the database.
func printPostmortem(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("runbot postmortem", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", getenv("RUNBOT_CONFIG"), "YAML configuration `file` (env RUNBOT_CONFIG)")
	dbPath := fset.String("db", "", "database: a SQLite `file` or a postgres:// URL (default from the configuration)")
	version := fset.Int("version", 0, "the draft `version` (default the latest)")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: runbot postmortem [flags] INCIDENT\n\nprints an incident's post-mortem draft (markdown); /postmortem in the chat drafts one\n\nflags:\n")
		fset.PrintDefaults()
	}
	if err := parseInterspersed(fset, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return 2
	}
	id, err := strconv.ParseInt(fset.Arg(0), 10, 64)
	if err != nil || id < 1 {
		fmt.Fprintf(stderr, "runbot postmortem: %q is not an incident number\n", fset.Arg(0))
		return 2
	}
	c, code := openCore("runbot postmortem", *configPath, *dbPath, getenv, time.Now(), stderr)
	if c == nil {
		return code
	}
	defer c.db.close()
	pm, err := c.svc.Postmortem(context.Background(), id, *version)
	if err != nil {
		fmt.Fprintln(stderr, "runbot postmortem:", incidents.ErrorMessage(err))
		return 1
	}
	if !pm.Drafted() {
		fmt.Fprintf(stderr, "runbot postmortem: v%d of incident #%d is being drafted; try again shortly\n", pm.Version, id)
		return 1
	}
	fmt.Fprint(stdout, pm.Markdown)
	return 0
}

// openCore opens the database of a configuration for a command that
// reads it beside a running runbot (WAL lets both work), and builds the
// bot's core over it, so that the command answers as the bot would. It
// refuses to create a database: a typo in --db would otherwise print an
// empty report. On failure c is nil and code the exit status.
func openCore(cmd, configPath, dbPath string, getenv func(string) string, now time.Time, stderr io.Writer) (c *core, code int) {
	cfg, err := config.Load(configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "runbot:", err)
		return nil, 2
	}
	if dbPath != "" {
		cfg.DB = dbPath
	}
	if _, err := os.Stat(cfg.DB); !cfg.Postgres() && errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: no database at %s (use --db or --config)\n", cmd, cfg.DB)
		return nil, 1
	}
	ctx := context.Background()
	// Beside: the runbot that owns the database may be running; such a
	// command holds no state across its few writes, so it takes no lock.
	db, err := openStore(sqlite.Beside(ctx), cfg, sqlite.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return nil, 1
	}
	// No runbooks: a command that prints from the database must not fail
	// on a runbook being edited; links go to public_url alone, as there
	// is no listening address to fall back on.
	if c, err = newCore(ctx, cfg, db, nil, cfg.PublicURL, nil, now); err != nil {
		db.close()
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return nil, 1
	}
	return c, 0
}
