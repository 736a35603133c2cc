// Package api is runbot's HTTP API: alert intake, incident queries and the
// health and metrics endpoints. Errors are JSON {"error": "..."}; field
// names are snake_case.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/runbot-dev/runbot/access"
	"github.com/runbot-dev/runbot/httperr"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

// Incidents is what the API needs from the incident service.
type Incidents interface {
	// IngestRepeats files alerts, the copies of one alert within a
	// request as one write with their count (repeats[i] for alerts[i]).
	IngestRepeats(ctx context.Context, alerts []incidents.Alert, repeats []int) ([]incidents.Ingested, error)
	// RecordTest keeps a sender's contact point test, for people to see
	// that the sender reaches runbot.
	RecordTest(ctx context.Context, t incidents.TestReceived) error
	FindIncident(ctx context.Context, id int64) (*incidents.Incident, error)
	FindIncidents(ctx context.Context, f incidents.IncidentFilter) ([]*incidents.Incident, error)
	Postmortems
}

// Options configure a Server.
type Options struct {
	Incidents Incidents
	Logger    *slog.Logger
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// every /api/ request.
	Token string
	// UserHeader, when set and no token is, is required on every /api/
	// request: an authenticating reverse proxy sets it.
	UserHeader string
	// Hosts are host names answered without a token besides addresses
	// and localhost (public_url's); with a token every name is.
	Hosts []string
	// MaxBodyBytes caps request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// Health reports whether runbot can do its job (database reachable).
	Health func(context.Context) error
	// Degraded says what runbot fails at though it runs ("chat messages
	// stuck for 7m (...)"), "" when nothing; nil checks nothing.
	Degraded func() string
	// Ready says why this replica should not be sent traffic yet or any
	// more (starting, shutting down, cut from the lease table), "" when it
	// should; nil means ready whenever healthy.
	Ready func() string
	// Heartbeats recognises the dead-man's switch's alert; nil means none
	// is configured.
	Heartbeats Heartbeats
	// Grouping decides which labelled alerts are one incident (the
	// config's grouping table); the zero value is the default.
	Grouping alerts.Grouping
	// Registerer receives the API's metrics; Gatherer serves /metrics.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock used to evaluate SLA breaches in responses.
	Now func() time.Time
	// Commands runs POST /api/v1/commands; nil leaves it out.
	Commands Commands
	// Replies posts a person's reply in an incident's thread on the web
	// console (POST /api/v1/incidents/{id}/replies); nil leaves it out.
	// Commands and Replies are whole parts of runbot, which wires both:
	// nil makes a smaller API (an intake test's), never a store that
	// lacks a method; the store's methods are all in Incidents.
	Replies Replies
	// Audit serves GET /api/v1/audit; nil leaves it out.
	Audit AuditLog
	// Console serves everything outside the API (the web console).
	Console http.Handler
	// Routes are more handlers by pattern (chat platforms' callbacks,
	// which authenticate their own requests).
	Routes map[string]http.Handler
}

// Server serves the API.
type Server struct {
	opts      Options
	health    *healthCheck
	crossSite access.CrossSite
	handler   http.Handler  // mux, behind the host check when no token is set
	large     chan struct{} // turns for large intake bodies, one per spare core
	metrics   *metrics
	mux       *http.ServeMux
}

// New builds a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s := &Server{opts: opts, metrics: newMetrics(opts.Registerer), mux: http.NewServeMux(),
		health: &healthCheck{run: opts.Health, logger: opts.Logger}, crossSite: access.NewCrossSite()}
	s.large = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))
	s.handler = s.mux
	if opts.Token == "" {
		s.handler = access.NewHosts(opts.Hosts...).Guard(s.mux)
	}
	s.mux.Handle("POST /api/v1/alerts/{source}", s.auth(http.HandlerFunc(s.intake)))
	s.mux.Handle("GET /api/v1/incidents", s.auth(http.HandlerFunc(s.listIncidents)))
	s.mux.Handle("GET /api/v1/incidents/{id}", s.auth(http.HandlerFunc(s.getIncident)))
	s.mux.Handle("GET /api/v1/incidents/{id}/postmortem", s.auth(http.HandlerFunc(s.postmortem)))
	if opts.Commands != nil {
		s.mux.Handle("POST /api/v1/commands", s.auth(http.HandlerFunc(s.command)))
	}
	if opts.Replies != nil {
		s.mux.Handle("POST /api/v1/incidents/{id}/replies", s.auth(http.HandlerFunc(s.reply)))
	}
	if opts.Audit != nil {
		s.mux.Handle("GET /api/v1/audit", s.auth(http.HandlerFunc(s.audit)))
	}
	for pattern, h := range opts.Routes {
		s.mux.Handle(pattern, h)
	}
	if opts.Console != nil {
		s.mux.Handle("/", opts.Console)
	}
	s.mux.Handle("/api/", s.auth(http.HandlerFunc(s.noRoute)))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /livez", s.livez)
	if opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// auth decides whether a request may reach the API. With a token, the
// bearer token is required and is enough: a browser never adds it to a
// request another site makes. Without one, a browser could be made to
// send requests from any page the RUN person opens, so cross-site
// requests that change anything are refused (scripts and servers send no
// Origin and pass); behind an authenticating proxy its user header is
// required too.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token != "" {
			if !access.HasToken(r, s.opts.Token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="runbot"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer <RUNBOT_INTAKE_TOKEN>")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if err := s.crossSite.Check(r); err != nil {
			writeError(w, http.StatusForbidden, err.Error()+": the API takes requests from scripts and servers, "+
				"or from any origin with a bearer token once one is set")
			return
		}
		if s.opts.UserHeader != "" && r.Header.Get(s.opts.UserHeader) == "" {
			writeError(w, http.StatusUnauthorized, "missing "+s.opts.UserHeader+": go through the authenticating proxy")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/alerts/"):
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "alerts are sent with POST")
	case r.URL.Path == "/api/v1/commands":
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, `commands are sent with POST {"text": "/ack 1", "user": "alice"}`)
	case r.URL.Path == "/api/v1/incidents" || strings.HasPrefix(r.URL.Path, "/api/v1/incidents/"):
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "incidents are read with GET")
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.health.check(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": healthProblem(err)})
		return
	}
	// Degraded is still 200: a readiness probe must not take runbot out
	// of service (and stop alert intake) because the chat is down; the
	// body and runbot_outbox_stuck say it.
	if s.opts.Degraded != nil {
		if problem := s.opts.Degraded(); problem != "" {
			writeJSON(w, http.StatusOK, map[string]string{"status": "degraded", "error": problem})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// healthProblem is the part that fails, in the check's own words; the
// cause (SQLite's, PostgreSQL's) is in the log, written when the trouble
// began.
func healthProblem(err error) string {
	var e *incidents.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "the health check failed"
}

// healthCheck runs the health function at most once a second, however
// many probes ask (they share the answer), and logs only changes: probes
// ask every few seconds, and a log that repeats one line for hours hides
// the line that matters.
type healthCheck struct {
	run    func(context.Context) error
	logger *slog.Logger

	mu     sync.Mutex
	at     time.Time
	last   error
	failed bool
}

// healthTimeout bounds one check: a probe that waits longer has given up.
const healthTimeout = 2 * time.Second

func (h *healthCheck) check(ctx context.Context) error {
	if h.run == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.at) < time.Second {
		return h.last
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
	defer cancel()
	err := h.run(ctx)
	h.at, h.last = time.Now(), err
	switch {
	case err != nil && !h.failed:
		h.logger.Error("health check failed", "operation", "checking health", "error", err)
	case err == nil && h.failed:
		h.logger.Info("health check passes again", "operation", "checking health")
	}
	h.failed = err != nil
	return err
}

// fail answers an error from the service through the writer the console
// shares: domain errors with their own message and status, anything else
// as a 500 whose cause goes to the log, once.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	httperr.Fail(w, r, s.opts.Logger, op, err)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	httperr.WriteJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) { httperr.WriteJSON(w, status, v) }
