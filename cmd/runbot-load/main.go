// Command runbot-load sends a storm of alerts to a running runbot and
// reports the intake rate and latency; with -bare it first measures a bare
// handler on this machine, the ceiling to compare against. With -flood it
// sends heavy requests beside the storm (a megabyte of log lines, a large
// Alertmanager group) and reports what they cost and what the storm's
// single alerts paid for them; -rss adds runbot's resident memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
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
	if err := fs.Parse(args); err != nil {
		return 2
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
