// Command runbot-load sends a storm of alerts to a running runbot and
// reports the intake rate and latency; with -bare it first measures a bare
// handler on this machine, the ceiling to compare against. With -flood it
// sends heavy requests beside the storm (a megabyte of log lines, a large
// Alertmanager group) and reports what they cost and what the storm's
// single alerts paid for them; -rss adds runbot's resident memory.
//
// With -compare it starts, in one run, a bare handler, a real Alertmanager
// and runbot (db_sync normal, then full), each its own process on
// loopback, sends each the same Alertmanager alerts (a warm-up opening
// -fingerprints of them, steady repeats in -slices taken in turn, a burst
// of new ones) and prints alerts/s, p50 and p99 per target and phase,
// with the ratios. With -postgres it adds runbot on PostgreSQL, with each
// count of -replicas: that many processes on one fresh database, the load
// sent to them round-robin:
//
//	go build -o /tmp/runbot ./cmd/runbot && go run ./cmd/runbot-load -compare -runbot /tmp/runbot -runs 3
//	go run ./cmd/runbot-load -compare -runbot /tmp/runbot -postgres auto -replicas 1,3 -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runbot-dev/runbot/loadgen"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runbot-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.Config
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "runbot's base `URL`")
	fs.StringVar(&cfg.Token, "token", os.Getenv("RUNBOT_INTAKE_TOKEN"), "bearer `token` (env RUNBOT_INTAKE_TOKEN)")
	fs.IntVar(&cfg.Clients, "clients", 32, "concurrent clients")
	fs.IntVar(&cfg.Batch, "batch", 1, "alerts per request")
	fs.IntVar(&cfg.Requests, "requests", 0, "total requests (0: run for -duration)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run when -requests is 0")
	fs.IntVar(&cfg.Fingerprints, "fingerprints", 1000, "distinct fingerprints cycled through")
	bare := fs.Bool("bare", false, "first run the same load against a bare handler on loopback")
	flood := fs.String("flood", "", "heavy requests sent beside the load: `kind` log-flood (one-byte lines), log-near (one failure, other ids), log-distinct (a failure per line) or alertmanager (one large group)")
	floodClients := fs.Int("flood-clients", 1, "concurrent senders of heavy requests")
	floodBytes := fs.Int("flood-bytes", 1<<20, "size of a log-flood or log-distinct body")
	floodAlerts := fs.Int("flood-alerts", 1800, "alerts in an alertmanager group")
	floodGzip := fs.Bool("flood-gzip", false, "send heavy requests gzipped")
	fs.BoolVar(&cfg.SampleRSS, "rss", false, "sample the server's resident memory from its /metrics")
	compare := fs.Bool("compare", false, "compare runbot with a bare handler and a real Alertmanager in one run (see -runbot, -alertmanager)")
	runbotBin := fs.String("runbot", "", "with -compare: the runbot `binaries` to start, comma-separated (go build -o /tmp/runbot ./cmd/runbot); without it, -url's runbot when -url is given")
	amBin := fs.String("alertmanager", "prometheus-alertmanager", "with -compare: the Alertmanager `binary`; \"\" leaves it out")
	syncs := fs.String("syncs", "normal,full", "with -compare and -runbot: the db_sync values runbot is started with, in order")
	steady := fs.Duration("steady", 10*time.Second, "with -compare: how long the steady repeats last")
	burst := fs.Int("burst", 1000, "with -compare: new fingerprints in the burst")
	runs := fs.Int("runs", 1, "with -compare: how many times to measure every target")
	slices := fs.Int("slices", 5, "with -compare: the steady repeats of each target in this many slices, taken in turn with the other targets'")
	pgSpec := fs.String("postgres", "", "with -compare -runbot: also runbot on PostgreSQL, on a fresh database per target: `auto` (a throwaway server started in a temporary directory, durable) or a postgres:// URL of a server on this host whose user may create databases")
	replicas := fs.String("replicas", "1,3", "with -postgres: the runbot process counts to measure, each on one database, the load round-robin over them")
	profileDir := fs.String("profile", "", "with -compare -runbot: save a CPU profile of runbot's steady phase per run in this `directory` (starts runbot with pprof on)")
	serveBareAt := fs.String("serve-bare", "", "serve the bare handler at this `address` until interrupted (what -compare starts)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *serveBareAt != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serveBare(ctx, *serveBareAt); err != nil {
			fmt.Fprintln(stderr, "runbot-load:", err)
			return 1
		}
		return 0
	}
	if *compare {
		return runCompare(args, cfg, comparisonFlags{runbotBin: *runbotBin, amBin: *amBin, syncs: *syncs, steady: *steady,
			burst: *burst, runs: *runs, slices: *slices, profileDir: *profileDir, postgres: *pgSpec, replicas: *replicas}, stdout, stderr)
	}
	switch *flood {
	case "":
	case "log-flood":
		cfg.Flood = &loadgen.Flood{Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: loadgen.LogFlood(*floodBytes)}
	case "log-near":
		cfg.Flood = &loadgen.Flood{Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: loadgen.NearIdenticalLogLines(*floodBytes)}
	case "log-distinct":
		cfg.Flood = &loadgen.Flood{Path: "/api/v1/alerts/log", ContentType: "text/plain", Body: loadgen.DistinctLogLines(*floodBytes)}
	case "alertmanager":
		cfg.Flood = &loadgen.Flood{Path: "/api/v1/alerts/alertmanager", ContentType: "application/json", Body: loadgen.AlertmanagerGroup(*floodAlerts)}
	default:
		fmt.Fprintf(stderr, "runbot-load: -flood %q is not log-flood, log-near, log-distinct or alertmanager\n", *flood)
		return 2
	}
	if cfg.Flood != nil {
		cfg.Flood.Clients, cfg.Flood.Gzip = *floodClients, *floodGzip
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	if *bare {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, "runbot-load: listening for the bare handler:", err)
			return 1
		}
		srv := &http.Server{Handler: loadgen.BareHandler()}
		go srv.Serve(ln)
		bareCfg := cfg
		bareCfg.URL = "http://" + ln.Addr().String()
		bareCfg.Flood, bareCfg.SampleRSS = nil, false
		res, err := loadgen.Run(ctx, bareCfg)
		srv.Close()
		fmt.Fprintf(stdout, "bare handler: %s\n", res)
		if err != nil {
			fmt.Fprintln(stderr, "runbot-load:", err)
			return 1
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	fmt.Fprintf(stdout, "runbot:       %s\n", res)
	if err != nil {
		fmt.Fprintln(stderr, "runbot-load:", err)
		return 1
	}
	return 0
}

// comparisonFlags are -compare's own flags.
type comparisonFlags struct {
	runbotBin, amBin, syncs, profileDir string
	postgres, replicas                  string
	steady                              time.Duration
	burst, runs, slices                 int
}

// runCompare runs -compare: -url names a running runbot only when given
// on the command line, since it has a default.
func runCompare(args []string, cfg loadgen.Config, f comparisonFlags, stdout, stderr io.Writer) int {
	c := &comparison{runs: max(f.runs, 1), token: cfg.Token, profileDir: f.profileDir, stdout: stdout, stderr: stderr,
		plan: loadgen.Plan{Clients: cfg.Clients, Fingerprints: cfg.Fingerprints, Steady: f.steady, Burst: f.burst, Slices: f.slices}}
	for _, b := range strings.Split(f.runbotBin, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.runbotBins = append(c.runbotBins, b)
		}
	}
	for _, a := range args {
		if a == "-url" || a == "--url" || strings.HasPrefix(a, "-url=") || strings.HasPrefix(a, "--url=") {
			c.url = cfg.URL
		}
	}
	if c.url != "" && len(c.runbotBins) > 0 {
		fmt.Fprintln(stderr, "runbot-load: -compare takes -url (a running runbot) or -runbot (a binary to start), not both")
		return 2
	}
	if c.url == "" && len(c.runbotBins) == 0 {
		fmt.Fprintln(stderr, "runbot-load: -compare needs -runbot (a runbot binary to start: go build -o /tmp/runbot ./cmd/runbot) or -url (a running runbot on loopback)")
		return 2
	}
	for _, s := range strings.Split(f.syncs, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.syncs = append(c.syncs, s)
		}
	}
	if f.postgres != "" {
		if len(c.runbotBins) == 0 {
			fmt.Fprintln(stderr, "runbot-load: -postgres needs -runbot: the runbot binary to start on PostgreSQL")
			return 2
		}
		for _, r := range strings.Split(f.replicas, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(r))
			if err != nil || n < 1 || n > 16 {
				fmt.Fprintf(stderr, "runbot-load: -replicas %q: want process counts from 1 to 16, comma-separated\n", f.replicas)
				return 2
			}
			c.replicas = append(c.replicas, n)
		}
	}
	if f.amBin != "" {
		bin, err := exec.LookPath(f.amBin)
		if err != nil {
			fmt.Fprintf(stderr, "runbot-load: Alertmanager %q not found (Debian: apt-get install prometheus-alertmanager), or leave it out with -alertmanager '': %v\n", f.amBin, err)
			return 1
		}
		c.amBin = bin
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "runbot-load: finding this binary to serve the bare handler:", err)
		return 1
	}
	c.self = self
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o755); err != nil {
			fmt.Fprintln(stderr, "runbot-load:", err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.postgres != "" {
		pg, err := openPostgres(ctx, f.postgres)
		if err != nil {
			fmt.Fprintln(stderr, "runbot-load:", err)
			return 1
		}
		defer func() {
			if err := pg.close(); err != nil {
				fmt.Fprintln(stderr, "runbot-load: stopping PostgreSQL:", err)
			}
		}()
		c.pg = pg
	}
	if err := c.run(ctx); err != nil {
		fmt.Fprintln(stderr, "runbot-load:", err)
		return 1
	}
	return 0
}
