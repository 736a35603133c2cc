package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// frontHandler is what runbot's HTTP server answers: a start-up answer
// while the database is opened and migrated, then runbot itself. The
// server listens from the start so that probes and senders hear why they
// must wait rather than find nothing.
type frontHandler struct {
	h atomic.Pointer[http.Handler]
}

func (f *frontHandler) set(h http.Handler) { f.h.Store(&h) }

func (f *frontHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*f.h.Load()).ServeHTTP(w, r)
}

// startingMessage is what every request hears before runbot is built.
const startingMessage = "runbot is starting: opening and migrating its database"

// starting answers while runbot is built: alive, not ready, and "retry"
// to everything else (Alertmanager and Grafana retry a 503; nothing is
// taken that could not be stored).
func starting(w http.ResponseWriter, r *http.Request) {
	status, body := http.StatusServiceUnavailable, map[string]string{"error": startingMessage}
	switch r.URL.Path {
	case "/healthz", "/livez":
		status, body = http.StatusOK, map[string]string{"status": "starting"}
	case "/readyz":
		body["status"] = "not ready"
	default:
		w.Header().Set("Retry-After", "5")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// serveWhileStarting listens on the configured address and serves the
// start-up answer until build sets runbot's handler.
func (a *App) serveWhileStarting(logger *slog.Logger) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		// Listening comes before the database's lock: the usual cause is
		// a runbot already running, whose lock would have said so.
		return fmt.Errorf("listening on %s: %w: is another runbot running? stop it, or set --listen (RUNBOT_LISTEN) to a free address",
			a.cfg.Listen, err)
	}
	if err != nil {
		return fmt.Errorf("listening on %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	a.front = &frontHandler{}
	a.front.set(http.HandlerFunc(starting))
	a.httpSrv = &http.Server{
		Handler:           a.front,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.With("operation", "serving http").Handler(), slog.LevelWarn),
	}
	a.served = make(chan error, 1)
	go func() { a.served <- a.httpSrv.Serve(ln) }()
	return nil
}

// notReady says why this replica should not be sent traffic, "" when it
// should: it must be running its engine, not stopping, and on PostgreSQL
// taking part in the lease elections (a replica the lease table does not
// hear from can take no chat lane, and its peers would think it dead).
func (a *App) notReady() string {
	if a.stopping.Load() {
		return "shutting down"
	}
	a.mu.Lock()
	running := a.running
	a.mu.Unlock()
	if !running {
		return "starting: the engine is not running yet"
	}
	if a.elector != nil {
		return a.elector.Campaigning()
	}
	return ""
}
