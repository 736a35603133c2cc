package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// printHandover is "runbot handover": the RUN week's summary as markdown
// on stdout, the week so far by default, the last complete one with
// --previous.
func printHandover(args []string, getenv func(string) string, now time.Time, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("runbot handover", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", getenv("RUNBOT_CONFIG"), "YAML configuration `file` (env RUNBOT_CONFIG)")
	dbPath := fset.String("db", "", "database: a SQLite `file` or a postgres:// URL (default from the configuration)")
	previous := fset.Bool("previous", false, "the last complete RUN week instead of the week so far")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: runbot handover [flags]\n\nprints the RUN week's handover summary (markdown); /run handover in the chat shows the same\n\nflags:\n")
		fset.PrintDefaults()
	}
	if err := parseInterspersed(fset, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() != 0 {
		fset.Usage()
		return 2
	}
	c, code := openCore("runbot handover", *configPath, *dbPath, getenv, now, stderr)
	if c == nil {
		return code
	}
	defer c.db.close()
	ctx := context.Background()
	router := c.router
	// The asks recorded while triage was on belong in the week's summary
	// even when it is off now.
	router.Asks = c.asks
	from, until := router.ThisWeek(now), now
	if *previous {
		from, until = router.ThisWeek(from.Add(-time.Millisecond)), from
	}
	h, err := router.Handover(ctx, from, until, now)
	if err != nil {
		fmt.Fprintln(stderr, "runbot handover:", incidents.ErrorMessage(err))
		return 1
	}
	fmt.Fprint(stdout, h.Markdown())
	return 0
}
