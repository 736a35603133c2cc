package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/runbot-dev/runbot/incidents/migrate"
	"github.com/runbot-dev/runbot/redact"
)

// runMigrate is "runbot migrate --from runbot.db --to postgres://...":
// copies a SQLite database into an empty PostgreSQL one (see
// incidents/migrate), printing how many rows each table got.
func runMigrate(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("runbot migrate", flag.ContinueOnError)
	fset.SetOutput(stderr)
	from := fset.String("from", "", "the SQLite database `file` to copy (required)")
	to := fset.String("to", "", "the empty PostgreSQL database to copy into: a postgres:// `URL` (required)")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: runbot migrate --from runbot.db --to postgres://user:password@host/db\n\n"+
			"copies a SQLite database into an empty PostgreSQL database, in one transaction: a team moving to\n"+
			"several replicas keeps its incidents, timelines, threads, outbox and settings, with their numbers.\n"+
			"Stop the runbot using the SQLite file first; the PostgreSQL database is migrated to this runbot's\n"+
			"schema, and refused if it holds any row already.\n\n%s\nflags:\n", migrate.Help())
		fset.PrintDefaults()
	}
	if err := parseInterspersed(fset, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() != 0 || *from == "" || *to == "" {
		fset.Usage()
		return 2
	}
	if !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://") {
		fmt.Fprintf(stderr, "runbot migrate: --to %s is not a postgres:// URL\n", redact.URL(*to))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The URL's password is removed from every line printed, whatever
	// quotes it.
	hide := redact.New(redact.Credentials(*to))
	log := slog.New(hide.Handler(slog.NewTextHandler(stderr, nil)))
	sum, err := migrate.Copy(ctx, migrate.Options{From: *from, To: *to, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "runbot migrate: nothing copied: %s\n", hide.String(err.Error()))
		return 1
	}
	fmt.Fprintf(stdout, "copied %s to %s\n", *from, redact.URL(*to))
	if err := sum.Write(stdout); err != nil {
		return 1
	}
	return 0
}
