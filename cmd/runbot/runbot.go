package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
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
	"github.com/runbot-dev/runbot/incidents/postmortem"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/redact"
	"github.com/runbot-dev/runbot/runbooks"
	"github.com/runbot-dev/runbot/runweek"
	"github.com/runbot-dev/runbot/selfmon"
)

// Deps is what Run takes besides the configuration.
type Deps struct {
	Logger *slog.Logger
	// Ready, when set, is called with the HTTP address once requests are
	// accepted.
	Ready func(net.Addr)
	// Platforms are chat platforms to run beside the configured ones
	// (tests plug fakes in here).
	Platforms []bot.Platform
	// Demo tells the demo's story once, a step every DemoEvery (default
	// 3 seconds), about two minutes.
	Demo      bool
	DemoEvery time.Duration
	// MattermostDialer opens Mattermost's WebSocket (tests cut it).
	MattermostDialer *websocket.Dialer
}

// Run runs runbot until ctx ends, then shuts down gracefully. It never
// touches signals, so tests boot the whole bot with it on port 0.
func Run(ctx context.Context, cfg config.Config, deps Deps) error {
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// A caller's own logger knows nothing of runbot's secrets; the
	// binary's, filtered already, is not wrapped twice.
	logger = slog.New(redact.New(cfg.Secrets()).Handler(logger.Handler()))
	if !config.IsLoopback(cfg.Listen) && cfg.IntakeToken == "" && cfg.TrustedUserHeader == "" {
		return fmt.Errorf("refusing to listen on %s without a token: anyone who reaches it could read and post incidents; "+
			"set RUNBOT_INTAKE_TOKEN (or intake_token in the config), or listen on 127.0.0.1", cfg.Listen)
	}
	if deps.Demo && cfg.RunbooksDir == "" {
		dir, err := writeDemoRunbooks()
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.RunbooksDir = dir
	}
	catalog, err := runbooks.Load(cfg.RunbooksDir)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)

	// The dispatcher and the scheduler are woken by commits; they are built
	// after the database, so the hook reaches them through these.
	var wakeOutbox, wakeJobs func()
	db, err := sqlite.Open(ctx, cfg.DB, sqlite.Options{
		Logger:       logger,
		Synchronous:  strings.ToUpper(cfg.DBSync),
		ObserveBatch: m.observeBatch,
		Changed: func(outbox, jobs bool) {
			if outbox && wakeOutbox != nil {
				wakeOutbox()
			}
			if jobs && wakeJobs != nil {
				wakeJobs()
			}
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

	// Listening comes first: chat platforms register callbacks at the
	// address, when no public URL says otherwise.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}

	// The web console is always on, beside any chat vendor.
	hub := web.NewHub()
	webStore := sqlite.NewWebMessages(db, web.Name)
	console := web.NewPlatform(webStore, "incidents", hub)
	platforms := append([]bot.Platform{console}, deps.Platforms...)
	routes := map[string]http.Handler{pprofPrefix: newPprof(cfg)} // /debug/pprof: 404 unless pprof is on (pprof.go)
	if cfg.Slack.BotToken != "" {
		sp, err := slack.New(slack.Config{BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken,
			SigningSecret: cfg.Slack.SigningSecret, APIURL: cfg.Slack.APIURL, DefaultChannel: cfg.Slack.Channel,
			ChannelRate: cfg.ChannelRate, ChannelBurst: cfg.ChannelBurst, Logger: logger})
		if err != nil {
			return fmt.Errorf("configuring slack: %w", err)
		}
		platforms = append(platforms, sp)
		if cfg.Slack.SigningSecret != "" {
			routes["/slack/"] = sp.Handler()
		}
	}
	if cfg.Mattermost.URL != "" {
		secret, err := db.Secret(ctx, "mattermost_actions")
		if err != nil {
			return err
		}
		var cmds []mattermost.Command
		for _, c := range (&commands.Router{}).Commands() {
			cmds = append(cmds, mattermost.Command{Trigger: c.Name, Hint: c.Args(), Description: c.Summary})
		}
		if cfg.PublicURL == "" {
			logger.Warn("no public_url: Mattermost is told to call runbot at its listening address", "operation", "configuring mattermost",
				"url", publicURL, "hint", "set public_url (RUNBOT_PUBLIC_URL) when Mattermost reaches runbot another way")
		}
		mp, err := mattermost.New(mattermost.Config{URL: cfg.Mattermost.URL, Token: cfg.Mattermost.Token, Team: cfg.Mattermost.Team,
			DefaultChannel: cfg.Mattermost.Channel, CallbackURL: publicURL, ActionSecret: []byte(secret),
			CommandTokens: cfg.Mattermost.CommandTokens, Commands: cmds, Cursor: sqlite.NewCursor(db, "mattermost_cursor"),
			ChannelRate: cfg.ChannelRate, ChannelBurst: cfg.ChannelBurst, Logger: logger, Dialer: deps.MattermostDialer})
		if err != nil {
			return fmt.Errorf("configuring mattermost: %w", err)
		}
		platforms = append(platforms, mp)
		routes["/mattermost/"] = mp.Handler()
	}
	names := make([]string, len(platforms))
	defaults := map[string]string{}
	for i, p := range platforms {
		names[i] = p.Name()
		defaults[p.Name()] = p.DefaultChannel()
	}
	secret, err := db.Secret(ctx, "console_session")
	if err != nil {
		return err
	}

	duty := runweek.New(cfg.RunWeek.Rotation, cfg.RunWeek.OnCall.Rotation, cfg.RunWeek.Calendar, sqlite.NewOverrides(db), cfg.Policy.RunPerson)
	if err := duty.Load(ctx, time.Now()); err != nil {
		return err
	}
	cfg.Policy.Duty = duty.Responder
	cfg.Policy.Paging = duty.Paging(cfg.RunWeek.OnCall.Repeat, cfg.RunWeek.OnCall.Secondary)
	svc := sqlite.NewIncidentService(db, cfg.Policy)
	svc.RawAlertsPerIncident = cfg.RawAlertsPerIncident
	svc.Platforms = names
	svc.StormExempt = []string{web.Name}
	if hook := cfg.RunWeek.OnCall.Webhook; hook != "" {
		platforms = append(platforms, &pager.Webhook{URL: hook})
		svc.Pagers = []string{pager.Name}
	}
	svc.Catalog = catalog
	svc.ObserveFired = m.observeFired

	outbox := sqlite.NewOutbox(db)
	reg.MustRegister(newStoreCollector(svc, outbox, logger))
	// runbot watches itself: stuck chat messages, and the heartbeat's
	// silence (the interface stays nil when no heartbeat is configured).
	stuck := selfmon.NewOutboxAlarm(selfmon.OutboxAlarmOptions{Threshold: cfg.SelfMon.OutboxAlarm, Outbox: outbox,
		Poster: sqlite.NewRoutines(db, names), Channels: defaults, Logger: logger})
	registerOutboxStuck(reg, stuck.Stuck)
	registerFreeSpace(reg, db.FreeSpace)
	var heartbeat *selfmon.Heartbeat
	var heartbeats api.Heartbeats
	if sm := cfg.SelfMon; sm.HeartbeatAlert != "" {
		heartbeat = selfmon.NewHeartbeat(selfmon.HeartbeatOptions{Alert: sm.HeartbeatAlert, Period: sm.HeartbeatPeriod,
			Priority: sm.HeartbeatPriority, Incidents: svc, Logger: logger, Location: cfg.Timezone})
		heartbeats = heartbeat
	}
	renderer := &bot.Renderer{Policy: cfg.Policy, Runbooks: catalog, Location: cfg.Timezone, PublicURL: cfg.PublicURL}
	dispatcher := bot.NewDispatcher(outbox, svc, renderer, platforms, bot.DispatcherOptions{
		PerChannel: rate.Limit(cfg.ChannelRate), Burst: cfg.ChannelBurst, Logger: logger, Observe: m.observeDelivery,
	})
	scheduler := bot.NewScheduler(svc, logger, nil)
	writer, drafting, err := newPostmortemWriter(cfg, svc, logger)
	if err != nil {
		return err
	}
	asks := sqlite.NewAsks(db)
	reminder := bot.NewAskReminder(asks, func(t time.Time) string { return duty.RunShift(t).Person }, logger)
	reminder.Location = cfg.Timezone
	wakeOutbox = dispatcher.Wake
	wakeJobs = func() { scheduler.Wake(); writer.Wake(); reminder.Wake() }

	router := &commands.Router{Incidents: svc, Runbooks: catalog, Policy: cfg.Policy, Members: cfg.Members, Location: cfg.Timezone,
		Drafting: drafting, Duty: duty, Logger: logger, Recent: svc, Calendar: cfg.RunWeek.Calendar, PublicURL: publicURL}
	handler := &commands.Handler{Router: router, Threads: svc, Defaults: defaults}
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

	routines := runweek.NewRoutines(sqlite.NewRoutines(db, names), logger, runRoutines(cfg.RunWeek, router, duty)...)

	consoleHandler, err := web.NewConsole(web.ConsoleOptions{
		Platform: console, Store: webStore, Incidents: svc, Runbooks: catalog, Renderer: renderer, Hub: hub, Logger: logger,
		Morning: func(ctx context.Context) (digest.Morning, error) { return router.MorningCheck(ctx, time.Now()) },
		Banner: func() string {
			return strings.Join(slices.DeleteFunc([]string{stuck.Banner(), catalog.Problem()}, func(s string) bool { return s == "" }), "; ")
		},
		Auth: &web.Auth{Token: cfg.IntakeToken, UserHeader: cfg.TrustedUserHeader, Secret: []byte(secret), Sessions: sqlite.NewSessions(db),
			Secure: strings.HasPrefix(cfg.PublicURL, "https://")},
	})
	if err != nil {
		return err
	}
	srv := api.New(api.Options{
		Incidents:    svc,
		Grouping:     cfg.Grouping,
		Commands:     router,
		Replies:      console,
		Postmortems:  svc,
		Console:      consoleHandler,
		Routes:       routes,
		Logger:       logger,
		Token:        cfg.IntakeToken,
		UserHeader:   cfg.TrustedUserHeader,
		Hosts:        []string{cfg.PublicURL, cfg.Listen},
		MaxBodyBytes: cfg.MaxBodyBytes,
		Health:       db.Check,
		Degraded: func() string {
			return strings.Join(slices.DeleteFunc([]string{stuck.Problem(), lowDisk(db.FreeSpace, cfg.DB)}, func(s string) bool { return s == "" }), "; ")
		},
		Heartbeats: heartbeats,
		Registerer: reg,
		Gatherer:   reg,
	})

	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.With("operation", "serving http").Handler(), slog.LevelWarn),
	}

	// The engine's goroutines stop before the database closes.
	engineCtx, stopEngine := context.WithCancel(context.Background())
	var engine sync.WaitGroup
	start := func(op string, f func(context.Context) error) {
		engine.Add(1)
		go func() {
			defer engine.Done()
			if err := f(engineCtx); err != nil {
				logger.Error("stopped on error", "operation", op, "error", err)
			}
		}()
	}
	start("dispatching messages", dispatcher.Run)
	start("firing deadlines", scheduler.Run)
	start("drafting post-mortems", writer.Run)
	if handler.Triage != nil {
		start("reminding asks", reminder.Run)
	}
	start("posting routines", routines.Run)
	start("watching the outbox", stuck.Run)
	if cfg.RunbooksDir != "" {
		start("reloading runbooks", func(ctx context.Context) error { return catalog.Watch(ctx, runbooks.DefaultWatchEvery, logger) })
	}
	if heartbeat != nil {
		start("watching heartbeats", heartbeat.Run)
	}
	for _, p := range platforms {
		start("listening to "+p.Name(), func(ctx context.Context) error { return p.Listen(ctx, handler) })
	}
	if deps.Demo {
		every := deps.DemoEvery
		if every <= 0 {
			every = 3 * time.Second
		}
		start("feeding demo alerts", func(ctx context.Context) error { return feedDemo(ctx, svc, every, logger) })
	}
	defer func() {
		stopEngine()
		engine.Wait()
	}()

	httpSrv.RegisterOnShutdown(hub.Close)
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	logger.Info("runbot is up", "operation", "starting", "addr", ln.Addr().String(), "version", version(),
		"platforms", strings.Join(names, ","), "runbooks", len(catalog.Services()), "config", cfg)
	if deps.Ready != nil {
		deps.Ready(ln.Addr())
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
	stopEngine()
	engine.Wait()
	if err := db.Close(); err != nil {
		return fmt.Errorf("closing database: %w", err)
	}
	logger.Info("stopped", "operation", "stopping")
	return nil
}

// newPostmortemWriter builds the post-mortem drafter: the LLM when one is
// configured, else the template; drafting says which, for people.
func newPostmortemWriter(cfg config.Config, svc *sqlite.IncidentService, logger *slog.Logger) (*postmortem.Writer, string, error) {
	redactor, err := postmortem.NewRedactor(cfg.Secrets(), cfg.Redact)
	if err != nil {
		return nil, "", fmt.Errorf("configuring redaction: %w", err)
	}
	var llm *postmortem.LLMConfig
	drafting := "from the template"
	if cfg.LLM.BaseURL != "" {
		llm = &postmortem.LLMConfig{BaseURL: cfg.LLM.BaseURL, Model: cfg.LLM.Model, APIKey: cfg.LLM.APIKey, APIType: cfg.LLM.APIType,
			APIVersion: cfg.LLM.APIVersion, Stream: cfg.LLM.Stream, Timeout: cfg.LLM.Timeout}
		drafting = "with " + cfg.LLM.Model
	}
	drafter, err := postmortem.NewDrafter(llm, redactor, logger)
	if err != nil {
		return nil, "", fmt.Errorf("configuring the post-mortem drafter: %w", err)
	}
	w := postmortem.NewWriter(svc, drafter, cfg.Policy, cfg.Timezone, logger)
	w.Catalog = svc.Catalog
	return w, drafting, nil
}

// runRoutines are the RUN week's scheduled posts: the morning check on
// working days, addressed to the RUN person, and the handover at the end
// of each RUN week, addressed to the outgoing and the incoming one.
func runRoutines(rw config.RunWeek, router *commands.Router, duty *runweek.Duty) []runweek.Routine {
	var list []runweek.Routine
	if !rw.MorningOff {
		list = append(list, runweek.Routine{Name: "morning_check", Next: runweek.MorningTimes(rw.Calendar, rw.MorningAt), Grace: 3 * time.Hour,
			Compose: func(ctx context.Context, _, now time.Time) (runweek.Post, error) {
				m, err := router.MorningCheck(ctx, now)
				if err != nil {
					return runweek.Post{}, err
				}
				return runweek.Post{Channel: rw.MorningChannel, Text: m.Markdown(), Audience: audienceOf(duty.RunShift(now).Person)}, nil
			}})
	}
	if duty.HasRotation() {
		list = append(list, runweek.Routine{Name: "handover", Next: runweek.HandoverTimes(rw.Rotation), Grace: 24 * time.Hour,
			Compose: func(ctx context.Context, due, now time.Time) (runweek.Post, error) {
				from, _ := duty.Week(due.Add(-time.Millisecond))
				h, err := router.Handover(ctx, from, due, now)
				if err != nil {
					return runweek.Post{}, err
				}
				return runweek.Post{Channel: rw.MorningChannel, Text: h.Markdown(), Audience: audienceOf(h.Outgoing, h.Incoming)}, nil
			}})
	}
	return list
}

func audienceOf(names ...string) incidents.Audience {
	var a incidents.Audience
	for _, n := range names {
		if n != "" && !slices.Contains(a.Users, n) {
			a.Users = append(a.Users, n)
		}
	}
	return a
}
