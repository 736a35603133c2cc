// Command runbot is a ChatOps incident bot: it turns alert streams into one
// thread per incident and keeps the SLA clocks of whoever is on RUN.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/redact"
)

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }

// run is main with its inputs passed in, so tests can call it.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "help" {
		// "runbot help" is "runbot -h", and "runbot help handover" is
		// "runbot handover -h": people type the word as often as the flag.
		if len(args) > 1 && args[1] != "help" {
			return run([]string{args[1], "-h"}, getenv, stdout, stderr)
		}
		return run([]string{"-h"}, getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "version" {
		fmt.Fprintln(stdout, "runbot", version())
		return 0
	}
	if len(args) > 0 && args[0] == "postmortem" {
		return printPostmortem(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "handover" {
		return printHandover(args[1:], getenv, time.Now(), stdout, stderr)
	}
	if len(args) > 0 && args[0] == "doctor" {
		return runDoctor(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "migrate" {
		return runMigrate(args[1:], stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, getenv, stderr)
}

// serve is runbot without a subcommand: flags, configuration, logger, and
// the bot until ctx ends. It takes ctx, not signals, so that a test runs
// the binary's whole start-up and stops it.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return serveWith(ctx, args, getenv, stderr, Deps{})
}

// serveWith is serve with some of Run's dependencies given: tests set
// the demo's pace and learn the address.
func serveWith(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, base Deps) int {
	fs := flag.NewFlagSet("runbot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("RUNBOT_CONFIG"), "YAML configuration `file` (env RUNBOT_CONFIG)")
	fs.String("db", "", "database: a SQLite `file` or a postgres:// URL (default runbot.db; env RUNBOT_DB)")
	fs.String("listen", "", "HTTP `address` (default 127.0.0.1:8080; env RUNBOT_LISTEN)")
	demo := fs.Bool("demo", false, "tell a two-minute story of sample alerts, in a database of its own removed at exit (never runbot.db)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: runbot [flags]\n       runbot postmortem [--version N] INCIDENT\n       runbot handover [--previous]\n"+
			"       runbot doctor [--config file] [--db file]\n       runbot migrate --from runbot.db --to postgres://...\n       runbot version\n       runbot help [command]\n\n"+
			"a command's flags may come before or after its arguments\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\n%s", config.Help())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "runbot: unknown command %q (try runbot -h)\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "runbot:", err)
		return 2
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "config" && f.Name != "demo" && flagErr == nil {
			if err := cfg.Set(f.Name, f.Value.String()); err != nil {
				flagErr = fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
	})
	if flagErr != nil {
		fmt.Fprintln(stderr, "runbot:", flagErr)
		return 2
	}

	var demoDir string
	if *demo {
		// The demo's story goes in a database of its own, gone when it
		// stops: sample incidents must never mix with a team's real ones
		// in runbot.db, and a second demo starts its story afresh.
		if demoDir, err = os.MkdirTemp("", "runbot-demo-"); err != nil {
			fmt.Fprintln(stderr, "runbot: creating the demo's database:", err)
			return 1
		}
		defer os.RemoveAll(demoDir)
		cfg.DB = filepath.Join(demoDir, "runbot-demo.db")
		// Two minutes of story would otherwise tell no repeat at all.
		cfg.Policy.RepeatNotice = min(cfg.Policy.RepeatNotice, 20*time.Second)
		// Sample P1s must never reach a team's real channels (nor page
		// its on-call person) because someone tried the demo in a shell
		// where the chat's credentials are set: the demo is the console's.
		cfg.Slack, cfg.Mattermost = config.Slack{}, config.Mattermost{}
		cfg.RunWeek.OnCall.Webhook = ""
	}

	logger := newLogger(cfg, stderr)
	if *demo {
		logger.Info("demo: a database of its own, removed when runbot stops; no runbot.db is read or written", "operation", "starting the demo",
			"db", cfg.DB)
	}
	deps := base
	deps.Logger, deps.Demo = logger, *demo
	ready := base.Ready
	deps.Ready = func(a net.Addr) {
		logger.Info("console ready: open "+consoleURL(cfg.PublicURL, a)+" in a browser", "operation", "starting")
		if ready != nil {
			ready(a)
		}
	}
	if err := Run(ctx, cfg, deps); err != nil {
		logger.Error("runbot stopped", "operation", "running runbot", "error", err)
		return 1
	}
	return 0
}

// parseInterspersed parses a command's flags wherever they stand among its
// arguments: "runbot postmortem 12 --config x.yaml" is "runbot postmortem
// --config x.yaml 12". The flag package stops at the first argument that
// is not a flag, while people add a flag at the end of the line they just
// typed. "--" ends the flags; the arguments are then fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	// Parsing "--" alone leaves the flags set and makes the arguments
	// what fs.Args() returns.
	return fs.Parse(append([]string{"--"}, positional...))
}

// newLogger writes cfg's log format at its level. The places that print
// a URL mask it themselves; the logger also removes the configured
// secrets and URL credentials from every record, for the text that no
// call site controls, such as a client library's error quoting a URL
// with its key.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(redact.New(cfg.Secrets()).Handler(h))
}

// stampedRevision is the git revision (and " (modified)") that
// deploy/image/build passes with -ldflags -X, for where go build cannot
// read it itself: it looks for a .git directory, and a git worktree has a
// .git file. The one variable the linker sets; nothing else writes it.
var stampedRevision string

// version is the module version and VCS revision the binary was built from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v, stamped := info.Main.Version, false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
			stamped = true
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	if !stamped && stampedRevision != "" {
		v += " " + stampedRevision
	}
	return v
}

// consoleURL is the address to open the console at: the public URL when
// one is set, else the listening address, with 127.0.0.1 for one that
// listens on every interface (a browser cannot open 0.0.0.0 everywhere).
func consoleURL(publicURL string, addr net.Addr) string {
	if publicURL != "" {
		return redact.URL(strings.TrimRight(publicURL, "/")) + "/"
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String() + "/"
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port)) + "/"
}
