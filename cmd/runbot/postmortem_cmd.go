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
	dbPath := fset.String("db", "", "SQLite database `file` (default from the configuration)")
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
	cfg, db, code := openDatabase("runbot postmortem", *configPath, *dbPath, getenv, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	ctx := context.Background()
	pm, err := sqlite.NewIncidentService(db, cfg.Policy).Postmortem(ctx, id, *version)
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

// openDatabase opens the database of a configuration for a command that
// reads it beside a running runbot (WAL lets both work). It refuses to
// create one: a typo in --db would otherwise print an empty report. On
// failure db is nil and code the exit status.
func openDatabase(cmd, configPath, dbPath string, getenv func(string) string, stderr io.Writer) (cfg config.Config, db *sqlite.DB, code int) {
	cfg, err := config.Load(configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "runbot:", err)
		return cfg, nil, 2
	}
	if dbPath != "" {
		cfg.DB = dbPath
	}
	if _, err := os.Stat(cfg.DB); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: no database at %s (use --db or --config)\n", cmd, cfg.DB)
		return cfg, nil, 1
	}
	db, err = sqlite.Open(context.Background(), cfg.DB, sqlite.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return cfg, nil, 1
	}
	return cfg, db, 0
}
