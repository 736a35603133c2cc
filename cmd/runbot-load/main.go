// Command runbot-load sends a storm of alerts to a running runbot and
// reports the intake rate and latency; with -bare it first measures a bare
// handler on this machine, the ceiling to compare against.
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
	if err := fs.Parse(args); err != nil {
		return 2
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
