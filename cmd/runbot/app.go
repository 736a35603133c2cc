package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/time/rate"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/mattermost"
	"github.com/runbot-dev/runbot/bot/pager"
	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/lease"
	"github.com/runbot-dev/runbot/redact"
	"github.com/runbot-dev/runbot/runbooks"
	"github.com/runbot-dev/runbot/runweek"
	"github.com/runbot-dev/runbot/selfmon"
)

// App is runbot wired together: New opens the database and the listening
// address and builds everything over them, Run serves until its context
// ends, and Close releases what New opened. The three are apart so that
// a start that fails half-way gives back what it took, and so that tests
// can build the whole bot without running it.
type App struct {
	cfg    config.Config // as New completed it: the demo's runbooks, the duty in the policy
	deps   Deps
	logger *slog.Logger

	// What New opens and Close releases.
	db      *store
	ln      net.Listener
	demoDir string // the demo's runbooks, written for this run only

	catalog   *runbooks.Catalog
	names     []string // the platforms' names, for the start-up log
	hub       *web.Hub
	httpSrv   *http.Server
	front     *frontHandler  // what httpSrv answers: "starting" until build completes, then the mux
	served    chan error     // httpSrv.Serve's end
	stopping  atomic.Bool    // Run's context ended: draining, no longer ready
	tasks     []task         // the engine: what Run starts beside the HTTP server
	elector   *lease.Elector // several replicas (PostgreSQL): who does what must happen once; nil on SQLite
	platforms []bot.Platform
	routes    map[string]http.Handler // the chat platforms' callbacks

	mu          sync.Mutex // guards running, closed, stopEngine and stopElector
	running     bool
	closed      bool
	stopEngine  context.CancelFunc
	engine      sync.WaitGroup
	stopElector context.CancelFunc
	electorDone chan struct{}
	closeErr    error
}

// task is one of the engine's goroutines: op names it in the log when it
// stops on an error.
type task struct {
	op  string
	run func(context.Context) error
}

// core is runbot's model over its database: who is on duty, the incidents
// under the policy, the asks, and the commands over them. The bot builds
// it at start; "runbot handover" and "runbot postmortem" build the same
// over the database a running bot writes, so that they answer as the bot
// would.
type core struct {
	db     *store
	policy incidents.Policy // the configuration's, with the duty's responder and paging
	duty   *runweek.Duty
	svc    service
	eng    *engine.Service // svc's settings
	asks   askStore
	router *commands.Router
}

// newCore builds the core over db as of now. catalog may be nil (no
// runbooks); publicURL is where the console is reached, for links.
func newCore(ctx context.Context, cfg config.Config, db *store, catalog *runbooks.Catalog, publicURL string, logger *slog.Logger,
	now time.Time) (*core, error) {
	duty := runweek.New(cfg.RunWeek.Rotation, cfg.RunWeek.OnCall.Rotation, cfg.RunWeek.Calendar, db.overrides, cfg.Policy.RunPerson)
	if err := duty.Load(ctx, now); err != nil {
		return nil, err
	}
	policy := cfg.Policy
	policy.Duty = duty.Responder
	policy.Paging = duty.Paging(cfg.RunWeek.OnCall.Repeat, cfg.RunWeek.OnCall.Secondary)
	svc, eng := db.service(policy)
	eng.RawAlertsPerIncident = cfg.RawAlertsPerIncident
	// Alertmanager repeats an alert unchanged at every group_interval, and
	// a flood repeats it far faster: one identical copy per interval is
	// enough for forensics, every distinct payload being kept.
	eng.RawRepeatEvery = 10 * time.Minute
	if catalog != nil {
		// A nil *Catalog in the interface would not read as "none".
		eng.Catalog = catalog
	}
	router := &commands.Router{Incidents: svc, Runbooks: catalog, Policy: policy, Members: cfg.Members, Location: cfg.Timezone,
		Duty: duty, Logger: logger, Calendar: cfg.RunWeek.Calendar, PublicURL: publicURL, Audit: db.audit, Replica: lease.NewHolder()}
	return &core{db: db, policy: policy, duty: duty, svc: svc, eng: eng, asks: db.asks, router: router}, nil
}

// slackPlatformConfig is the Slack platform's configuration, for the bot
// and for the doctor's checks of it.
func slackPlatformConfig(cfg config.Config, logger *slog.Logger) slack.Config {
	return slack.Config{BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, SigningSecret: cfg.Slack.SigningSecret,
		APIURL: cfg.Slack.APIURL, DefaultChannel: cfg.Slack.Channel, ChannelRate: cfg.ChannelRate, ChannelBurst: cfg.ChannelBurst,
		Logger: logger, People: cfg.People}
}

// mattermostPlatformConfig is the Mattermost platform's configuration,
// for the bot and for the doctor's checks of it: callbackURL is where
// Mattermost calls runbot, secret signs the buttons.
func mattermostPlatformConfig(cfg config.Config, callbackURL string, secret []byte, logger *slog.Logger) mattermost.Config {
	var cmds []mattermost.Command
	for _, c := range (&commands.Router{}).Commands() {
		cmds = append(cmds, mattermost.Command{Trigger: c.Name, Hint: c.Args(), Description: c.Summary})
	}
	return mattermost.Config{URL: cfg.Mattermost.URL, Token: cfg.Mattermost.Token, Team: cfg.Mattermost.Team,
		DefaultChannel: cfg.Mattermost.Channel, CallbackURL: callbackURL, ActionSecret: secret,
		CommandTokens: cfg.Mattermost.CommandTokens, Commands: cmds, ChannelRate: cfg.ChannelRate, ChannelBurst: cfg.ChannelBurst,
		Logger: logger, People: cfg.People}
}

// New builds runbot from its configuration: it opens the database and
// the listening address, and wires the platforms, the engine and the
// HTTP server over them, starting nothing. On error, what it opened is
// closed again.
func New(ctx context.Context, cfg config.Config, deps Deps) (app *App, err error) {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// A caller's own logger knows nothing of runbot's secrets; the
	// binary's, filtered already, is not wrapped twice.
	logger = slog.New(redact.New(cfg.Secrets()).Handler(logger.Handler()))
	if !config.IsLoopback(cfg.Listen) && cfg.IntakeToken == "" && cfg.TrustedUserHeader == "" && !cfg.OIDC.Enabled() {
		return nil, fmt.Errorf("refusing to listen on %s without a token: anyone who reaches it could read and post incidents; "+
			"set RUNBOT_INTAKE_TOKEN (or intake_token in the config), or oidc for the console, or listen on 127.0.0.1", cfg.Listen)
	}
	if _, err := consoleOIDC(cfg, logger); err != nil {
		return nil, err
	}
	a := &App{deps: deps, logger: logger, routes: map[string]http.Handler{}}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if deps.Demo && cfg.RunbooksDir == "" {
		if a.demoDir, err = writeDemoRunbooks(); err != nil {
			return nil, err
		}
		cfg.RunbooksDir = a.demoDir
	}
	a.cfg = cfg
	if a.catalog, err = runbooks.Load(cfg.RunbooksDir); err != nil {
		return nil, err
	}
	if err = a.build(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// build is New past the checks: everything over the database and the
// listener, in the order each needs the other.
func (a *App) build(ctx context.Context) error {
	cfg, logger := a.cfg, a.logger
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)

	// The dispatcher and the scheduler are woken by commits; they are built
	// after the database, so the hook reaches them through these. On
	// PostgreSQL other replicas' commits call it from a goroutine of the
	// store's, at any time: hence the lock.
	var (
		wakeMu               sync.Mutex
		wakeOutbox, wakeJobs func()
	)
	// Listening comes first: chat platforms register callbacks at the
	// address when no public URL says otherwise, and probes get an answer
	// while the database is opened and migrated, which can take minutes:
	// alive (a liveness probe must not restart a migration half-way) and
	// not ready.
	if err := a.serveWhileStarting(logger); err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, sqlite.Options{
		Logger:       logger,
		ObserveBatch: m.observeBatch,
		Changed: func(outbox, jobs bool) {
			wakeMu.Lock()
			wo, wj := wakeOutbox, wakeJobs
			wakeMu.Unlock()
			if outbox && wo != nil {
				wo()
			}
			if jobs && wj != nil {
				wj()
			}
		},
	})
	if err != nil {
		return err
	}
	a.db = db
	// With PostgreSQL, several replicas may share the database: what must
	// happen once runs under a lease (see once below and the dispatcher's
	// lanes). SQLite is one process, which the lock file beside the
	// database enforces: there everything runs, as before.
	if db.leases != nil {
		a.elector = lease.NewElector(db.leases, lease.Options{Logger: logger})
		registerLeases(reg, a.elector)
		logger.Info("electing leases", "operation", "electing", "holder", a.elector.Holder(),
			"ttl", lease.DefaultTTL, "interval", lease.DefaultInterval)
	}

	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + a.ln.Addr().String()
	}

	// The web console is always on, beside any chat vendor.
	a.hub = web.NewHub()
	if db.consoleRelay != nil {
		a.hub.Share(db.consoleRelay, logger)
	}
	webStore := db.web
	console := web.NewPlatform(webStore, "incidents", a.hub)
	a.platforms = append([]bot.Platform{console}, a.deps.Platforms...)
	if err := a.chatPlatforms(ctx, publicURL); err != nil {
		return err
	}
	names := make([]string, len(a.platforms))
	defaults := map[string]string{}
	for i, p := range a.platforms {
		names[i] = p.Name()
		defaults[p.Name()] = p.DefaultChannel()
	}
	a.names = names
	secret, err := db.secret(ctx, "console_session")
	if err != nil {
		return err
	}

	c, err := newCore(ctx, cfg, db, a.catalog, publicURL, logger, time.Now())
	if err != nil {
		return err
	}
	cfg.Policy = c.policy
	svc, eng, router, duty := c.svc, c.eng, c.router, c.duty
	eng.Platforms = names
	eng.StormExempt = []string{web.Name}
	if hook := cfg.RunWeek.OnCall.Webhook; hook != "" {
		a.platforms = append(a.platforms, &pager.Webhook{URL: hook})
		eng.Pagers = []string{pager.Name}
	}
	eng.ObserveFired = m.observeFired

	outbox := db.outbox
	reg.MustRegister(newStoreCollector(svc, outbox, c.asks, logger))
	// runbot watches itself: stuck chat messages, and the heartbeat's
	// silence (the interface stays nil when no heartbeat is configured).
	stuck := selfmon.NewOutboxAlarm(selfmon.OutboxAlarmOptions{Threshold: cfg.SelfMon.OutboxAlarm, Outbox: outbox,
		Poster: db.routines(names), Channels: defaults, Logger: logger})
	registerOutboxStuck(reg, stuck.Stuck)
	if db.freeSpace != nil {
		registerFreeSpace(reg, db.freeSpace)
	}
	var heartbeat *selfmon.Heartbeat
	var heartbeats api.Heartbeats
	if sm := cfg.SelfMon; sm.HeartbeatAlert != "" {
		heartbeat = selfmon.NewHeartbeat(selfmon.HeartbeatOptions{Alert: sm.HeartbeatAlert, Period: sm.HeartbeatPeriod,
			Priority: sm.HeartbeatPriority, Incidents: svc, Store: db.heartbeats, Logger: logger, Location: cfg.Timezone})
		heartbeats = heartbeat
		registerHeartbeat(reg, heartbeat.LastHeard, sm.HeartbeatPeriod)
	}
	renderer := &bot.Renderer{Policy: cfg.Policy, Runbooks: a.catalog, Location: cfg.Timezone, PublicURL: cfg.PublicURL}
	dispatcherOpts := bot.DispatcherOptions{
		PerChannel: rate.Limit(cfg.ChannelRate), Burst: cfg.ChannelBurst, Logger: logger, Observe: m.observeDelivery,
	}
	if a.elector != nil {
		// Set only when there is one: a nil *Elector would not read as none.
		dispatcherOpts.Leases = a.elector
	}
	dispatcher := bot.NewDispatcher(outbox, svc, renderer, a.platforms, dispatcherOpts)
	scheduler := bot.NewScheduler(svc, logger, nil)
	writer, drafting, err := newPostmortemWriter(cfg, svc, eng.Catalog, logger)
	if err != nil {
		return err
	}
	router.Drafting = drafting
	asks := c.asks
	reminder := bot.NewAskReminder(asks, func(t time.Time) string { return duty.RunShift(t).Person }, logger)
	reminder.Location = cfg.Timezone
	wakeMu.Lock()
	wakeOutbox = dispatcher.Wake
	wakeJobs = func() { scheduler.Wake(); writer.Wake(); reminder.Wake() }
	wakeMu.Unlock()

	if a.elector != nil {
		router.Replica = a.elector.Holder() // the audit log and the leases name a replica alike
	}
	handler := &commands.Handler{Router: router, Threads: svc, Defaults: defaults, Console: web.Name}
	if t := cfg.RunWeek.Triage; len(t.Channels) > 0 {
		if len(cfg.Members) == 0 {
			logger.Warn("triage channels without members: nobody can tell an ask from the team's own talk, so triage is off",
				"operation", "configuring triage", "hint", "list the team under members")
		} else {
			router.Asks = asks
			handler.Triage = &commands.Triage{Asks: asks, Channels: t.Channels, Threshold: t.Threshold, Calendar: cfg.RunWeek.Calendar, Emoji: t.Emoji}
			reminder.Emoji = t.Emoji
		}
	}

	routines := runweek.NewRoutines(db.routines(names), logger, runRoutines(cfg.RunWeek, router, duty)...)

	catalog := a.catalog
	sso, err := consoleOIDC(cfg, logger)
	if err != nil {
		return err
	}
	consoleHandler, err := web.NewConsole(web.ConsoleOptions{
		Platform: console, Store: webStore, Incidents: svc, Runbooks: catalog, Renderer: renderer, Hub: a.hub, Logger: logger, Audit: db.audit,
		Morning: func(ctx context.Context) (digest.Morning, error) { return router.MorningCheck(ctx, time.Now()) },
		Banner: func() string {
			return strings.Join(slices.DeleteFunc([]string{stuck.Banner(), catalog.Problem()}, func(s string) bool { return s == "" }), "; ")
		},
		Auth: &web.Auth{Token: cfg.IntakeToken, UserHeader: cfg.TrustedUserHeader, OIDC: sso, Canonical: cfg.People.Canonical, Secret: []byte(secret), Sessions: db.sessions,
			Secure: strings.HasPrefix(cfg.PublicURL, "https://")},
	})
	if err != nil {
		return err
	}
	mux := a.newMux(api.Options{
		Incidents:    svc,
		Grouping:     cfg.Grouping,
		Commands:     router,
		Replies:      console,
		Audit:        db.audit,
		Console:      consoleHandler,
		Logger:       logger,
		Token:        cfg.IntakeToken,
		UserHeader:   cfg.TrustedUserHeader,
		Hosts:        []string{cfg.PublicURL, cfg.Listen},
		MaxBodyBytes: cfg.MaxBodyBytes,
		Health:       db.check,
		Degraded: func() string {
			var disk string
			if db.freeSpace != nil {
				disk = lowDisk(db.freeSpace, cfg.DB)
			}
			return strings.Join(slices.DeleteFunc([]string{stuck.Problem(), disk}, func(s string) bool { return s == "" }), "; ")
		},
		Heartbeats: heartbeats,
		Ready:      a.notReady,
		Registerer: reg,
		Gatherer:   reg,
	})
	if sso != nil && cfg.IntakeToken == "" && !config.IsLoopback(cfg.Listen) {
		mux = apiNeedsToken(mux)
	}
	a.httpSrv.RegisterOnShutdown(a.hub.Close)
	a.front.set(mux)

	// The dispatcher runs on every replica, each lane under its own lease.
	// The scheduler too, without a lease: FireDue claims the due
	// deadlines with FOR UPDATE SKIP LOCKED and marks them fired in the
	// same transaction, so each fires once whichever replica gets it.
	a.tasks = []task{
		{"dispatching messages", dispatcher.Run},
		{"firing deadlines", scheduler.Run},
		{"drafting post-mortems", a.once("postmortem-writer", writer.Run)},
	}
	if handler.Triage != nil {
		a.tasks = append(a.tasks, task{"reminding asks", a.once("ask-reminder", reminder.Run)})
	}
	// Every replica watches the outbox, for its own /healthz, metric and
	// banner; one tells the chat of a recovery.
	a.tasks = append(a.tasks, task{"posting routines", a.once("routines", routines.Run)},
		task{"watching the outbox", stuck.Run}, task{"telling the chat of the outbox", a.once("outbox-alarm", stuck.Announce)})
	if cfg.RunbooksDir != "" {
		a.tasks = append(a.tasks, task{"reloading runbooks", func(ctx context.Context) error {
			return catalog.Watch(ctx, runbooks.DefaultWatchEvery, logger)
		}})
	}
	if heartbeat != nil {
		a.tasks = append(a.tasks, task{"watching heartbeats", a.once("heartbeat-watcher", heartbeat.Run)})
	}
	for _, p := range a.platforms {
		listen := func(ctx context.Context) error { return p.Listen(ctx, handler) }
		if mp, ok := p.(*mattermost.Platform); ok {
			// One WebSocket and one catch-up cursor: two listeners would
			// both hand every post and command to the bot. Slack's Socket
			// Mode gives each event to one connection, and the console's
			// listener serves its own browsers: those run everywhere. The
			// callbacks (commands, buttons) reach any replica, listening
			// or not: each answers them.
			mp.Serve(handler)
			listen = a.once("mattermost-listener", listen)
		}
		a.tasks = append(a.tasks, task{"listening to " + p.Name(), listen})
	}
	if a.deps.Demo {
		every := a.deps.DemoEvery
		if every <= 0 {
			every = 3 * time.Second
		}
		a.tasks = append(a.tasks, task{"feeding demo alerts", func(ctx context.Context) error { return feedDemo(ctx, svc, every, logger) }})
	}
	a.cfg = cfg
	return nil
}

// once returns run as it runs on this replica: on SQLite as it is, on
// PostgreSQL only while this replica holds the lease name, so that one
// replica at a time runs it.
func (a *App) once(name string, run func(context.Context) error) func(context.Context) error {
	if a.elector == nil {
		return run
	}
	return a.elector.Singleton(name, run)
}

// registerLeases exports the leases this replica campaigns for: which it
// holds, their terms and how often it won or lost each.
func registerLeases(reg prometheus.Registerer, e *lease.Elector) {
	reg.MustRegister(&leaseCollector{stats: e.Stats,
		held: prometheus.NewDesc("runbot_lease_held", "1 while this replica holds the lease, else 0.", []string{"name"}, nil),
		term: prometheus.NewDesc("runbot_lease_term", "The lease's term as this replica last saw it: it grows with each new holder.",
			[]string{"name"}, nil),
		changes: prometheus.NewDesc("runbot_lease_changes_total", "Times this replica won or lost the lease.", []string{"name"}, nil),
	})
}

// leaseCollector reads the leases at each scrape.
type leaseCollector struct {
	stats               func() []lease.Stat
	held, term, changes *prometheus.Desc
}

func (c *leaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.held
	ch <- c.term
	ch <- c.changes
}

func (c *leaseCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stats() {
		held := 0.0
		if s.Held {
			held = 1
		}
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, held, s.Name)
		ch <- prometheus.MustNewConstMetric(c.term, prometheus.GaugeValue, float64(s.Term), s.Name)
		ch <- prometheus.MustNewConstMetric(c.changes, prometheus.CounterValue, float64(s.Changes), s.Name)
	}
}

// chatPlatforms adds the configured chat vendors to the platforms, and
// their callbacks to the routes.
func (a *App) chatPlatforms(ctx context.Context, publicURL string) error {
	cfg, logger := a.cfg, a.logger
	if cfg.Slack.BotToken != "" {
		sc := slackPlatformConfig(cfg, logger)
		sc.Dedup = a.db.slackEvents // nil on SQLite: in memory
		sp, err := slack.New(sc)
		if err != nil {
			return fmt.Errorf("configuring slack: %w", err)
		}
		a.platforms = append(a.platforms, sp)
		if cfg.Slack.SigningSecret != "" {
			a.routes["/slack/"] = sp.Handler()
		}
	}
	if cfg.Mattermost.URL != "" {
		secret, err := a.db.secret(ctx, "mattermost_actions")
		if err != nil {
			return err
		}
		if cfg.PublicURL == "" {
			logger.Warn("no public_url: Mattermost is told to call runbot at its listening address", "operation", "configuring mattermost",
				"url", publicURL, "hint", "set public_url (RUNBOT_PUBLIC_URL) when Mattermost reaches runbot another way")
		}
		mc := mattermostPlatformConfig(cfg, publicURL, []byte(secret), logger)
		mc.Cursor, mc.Dialer = a.db.cursor("mattermost_cursor"), a.deps.MattermostDialer
		mp, err := mattermost.New(mc)
		if err != nil {
			return fmt.Errorf("configuring mattermost: %w", err)
		}
		a.platforms = append(a.platforms, mp)
		a.routes["/mattermost/"] = mp.Handler()
	}
	return nil
}

// newMux is runbot's HTTP handler: the API with its health check and
// metrics, the web console, the chat platforms' callbacks and the
// profiler.
func (a *App) newMux(opts api.Options) http.Handler {
	opts.Routes = maps.Clone(a.routes)
	opts.Routes[pprofPrefix] = newPprof(a.cfg) // /debug/pprof: 404 unless pprof is on (pprof.go)
	return api.New(opts)
}

// Addr is the address runbot listens on (port 0 resolved).
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// Run serves until ctx ends, then shuts down gracefully: the HTTP server
// drains its requests, the engine stops (the dispatcher with what it was
// delivering), and the database closes. It runs once; the App is closed
// when it returns.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running || a.closed {
		a.mu.Unlock()
		return errors.New("running runbot: an App runs once, and not after Close")
	}
	a.running = true
	// The engine's goroutines stop before the database closes, on a
	// context of their own: ctx ends first, while requests drain.
	engineCtx, stopEngine := context.WithCancel(context.Background())
	a.stopEngine = stopEngine
	// Started under the lock, so that a concurrent Close waits for all.
	if a.elector != nil {
		// On a context of its own too: it releases the leases when it
		// ends, which must wait until the work under them has stopped.
		electorCtx, stopElector := context.WithCancel(context.Background())
		a.stopElector, a.electorDone = stopElector, make(chan struct{})
		go func() {
			defer close(a.electorDone)
			a.elector.Run(electorCtx)
		}()
	}
	for _, t := range a.tasks {
		a.engine.Go(func() {
			if err := t.run(engineCtx); err != nil {
				a.logger.Error("stopped on error", "operation", t.op, "error", err)
			}
		})
	}
	a.mu.Unlock()
	defer a.Close()

	served := a.served
	a.logger.Info("runbot is up", "operation", "starting", "addr", a.ln.Addr().String(), "version", version(),
		"platforms", strings.Join(a.names, ","), "runbooks", len(a.catalog.Services()), "config", a.cfg)
	if a.deps.Ready != nil {
		a.deps.Ready(a.ln.Addr())
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			// Close was called: it stops the rest.
			return a.Close()
		}
		return fmt.Errorf("serving http: %w", err)
	}
	a.stopping.Store(true)
	if d := a.cfg.ShutdownDelay; d > 0 {
		// Load balancers and Kubernetes take a while to stop sending
		// requests after a replica is told to stop: answering them
		// meanwhile, not ready, loses none.
		a.logger.Info("shutting down: not ready, still serving", "operation", "stopping", "for", d)
		time.Sleep(d)
	}
	a.logger.Info("shutting down", "operation", "stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.httpSrv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stopping http server: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving http: %w", err)
	}
	if err := a.Close(); err != nil {
		return err
	}
	a.logger.Info("stopped", "operation", "stopping")
	return nil
}

// Close releases what New opened, in the order of a shutdown: the HTTP
// server and its listener, the engine, the database, the demo's
// runbooks. After Run's graceful shutdown only the last steps are left;
// without it (Run never called, a New that failed half-way, Close from
// another goroutine) the server is closed at once. It may be called any
// number of times and returns the first call's error.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return a.closeErr
	}
	a.closed = true
	var errs []error
	if a.hub != nil {
		a.hub.Close()
	}
	if a.httpSrv != nil {
		// Shut down already, after Run: then there is nothing left to close.
		if err := a.httpSrv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing http server: %w", err))
		}
	}
	if a.ln != nil {
		// Serve closes it, when Run got that far.
		if err := a.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing listener: %w", err))
		}
	}
	if a.stopEngine != nil {
		a.stopEngine()
		a.engine.Wait()
	}
	if a.stopElector != nil {
		// After the engine: a lease released while its work still ran
		// would let another replica start it beside this one.
		a.stopElector()
		<-a.electorDone
	}
	if a.db != nil {
		if err := a.db.close(); err != nil {
			errs = append(errs, fmt.Errorf("closing database: %w", err))
		}
	}
	if a.demoDir != "" {
		if err := os.RemoveAll(a.demoDir); err != nil {
			errs = append(errs, fmt.Errorf("removing the demo's runbooks: %w", err))
		}
	}
	a.closeErr = errors.Join(errs...)
	return a.closeErr
}
