package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// Run runs runbot until ctx ends, then shuts down gracefully. It never
// touches signals, so tests boot the whole bot with it on port 0. ready, when
// not nil, is called with the HTTP address once requests are accepted.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger, ready func(net.Addr)) error {
	if !config.IsLoopback(cfg.Listen) && cfg.IntakeToken == "" {
		return fmt.Errorf("refusing to listen on %s without a token: anyone who reaches it could read and post incidents; "+
			"set RUNBOT_INTAKE_TOKEN (or intake_token in the config), or listen on 127.0.0.1", cfg.Listen)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	batchSize := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "runbot_store_batch_writes", Help: "Writes committed together in one transaction.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10),
	})
	commitSeconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "runbot_store_commit_seconds", Help: "Time to run and commit a batch of writes.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	reg.MustRegister(batchSize, commitSeconds)

	db, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{
		Logger:      logger,
		Synchronous: strings.ToUpper(cfg.DBSync),
		ObserveBatch: func(n int, took time.Duration) {
			batchSize.Observe(float64(n))
			commitSeconds.Observe(took.Seconds())
		},
	})
	if err != nil {
		return err
	}
	defer db.Close()
	pragmas, err := sqlite.Pragmas(ctx, db)
	if err != nil {
		return err
	}
	logger.Info("database ready", "operation", "opening database", "path", cfg.DB,
		"journal_mode", pragmas["journal_mode"], "synchronous", pragmas["synchronous"])

	svc := sqlite.NewIncidentService(db, cfg.Policy)
	svc.RawAlertsPerIncident = cfg.RawAlertsPerIncident

	srv := api.New(api.Options{
		Incidents:    svc,
		Logger:       logger,
		Token:        cfg.IntakeToken,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Health:       db.Check,
		Registerer:   reg,
		Gatherer:     reg,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.With("operation", "serving http").Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	logger.Info("runbot is up", "operation", "starting", "addr", ln.Addr().String(), "version", version(), "config", cfg)
	if ready != nil {
		ready(ln.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("serving http: %w", err)
	}
	logger.Info("shutting down", "operation", "stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stopping http server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving http: %w", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("closing database: %w", err)
	}
	logger.Info("stopped", "operation", "stopping")
	return nil
}
