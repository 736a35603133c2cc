package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/mattermost"
	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/redact"
	"github.com/runbot-dev/runbot/runbooks"
)

// runDoctor is "runbot doctor": it checks the configuration, the database,
// the listening address, the chat platform and the callback URL, one line
// per check, and exits 1 when one failed.
func runDoctor(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("runbot doctor", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", getenv("RUNBOT_CONFIG"), "YAML configuration `file` (env RUNBOT_CONFIG)")
	fset.String("db", "", "database: a SQLite `file` or a postgres:// URL (default from the configuration)")
	fset.String("listen", "", "HTTP `address` (default from the configuration)")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: runbot doctor [flags]\n\nchecks the configuration, the database, the chat platform and the callback URL;\n"+
			"prints ok, warn or FAIL per check with what to do, and exits 1 when a check failed\n\nflags:\n")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() != 0 {
		fset.Usage()
		return 2
	}
	d := &doctor{w: stdout, client: &http.Client{}, redactor: redact.New(nil)}
	cfg, err := config.Load(*configPath, getenv)
	if err == nil {
		// Flags win over the file and the environment, as for the bot.
		fset.Visit(func(f *flag.Flag) {
			if f.Name != "config" && err == nil {
				if e := cfg.Set(f.Name, f.Value.String()); e != nil {
					err = fmt.Errorf("--%s: %w", f.Name, e)
				}
			}
		})
	}
	if err != nil {
		d.Fail("config", "%s: runbot would not start: fix the setting named", bot.OneLine(err))
	} else {
		d.cfg, d.redactor = cfg, redact.New(cfg.Secrets())
		d.OK("config", "%s", describeConfig(cfg))
		d.run(context.Background())
	}
	var summary []string
	if d.failed > 0 {
		summary = append(summary, count(d.failed, "check")+" failed")
	}
	if d.warned > 0 {
		summary = append(summary, count(d.warned, "warning"))
	}
	if len(summary) > 0 {
		fmt.Fprintf(stderr, "runbot doctor: %s\n", strings.Join(summary, ", "))
	}
	if d.failed > 0 {
		return 1
	}
	return 0
}

// doctor runs the checks in order and prints each as it completes.
type doctor struct {
	cfg    config.Config
	w      io.Writer
	client *http.Client // no timeout of its own: every call carries one in its context

	failed, warned int
	// redactor cleans every line: the checks mask the URLs they name,
	// and it removes what they cannot see, such as a token quoted in a
	// library's error.
	redactor *redact.Redactor

	catalog *runbooks.Catalog // nil when the runbooks do not load
	// ln is the listening address, held from its check to the callback
	// probe when it was free, so that the probe can tell whether the
	// callback URL leads here.
	ln net.Listener
}

func (d *doctor) line(status, name, format string, a ...any) {
	fmt.Fprintf(d.w, "%-4s %-20s %s\n", status, name, d.redactor.String(fmt.Sprintf(format, a...)))
}

// OK, Warn and Fail print a check's line: the doctor is the bot.Report
// the chat platforms' checks write to.
func (d *doctor) OK(name, format string, a ...any) { d.line("ok", name, format, a...) }

func (d *doctor) Warn(name, format string, a ...any) {
	d.warned++
	d.line("warn", name, format, a...)
}

func (d *doctor) Fail(name, format string, a ...any) {
	d.failed++
	d.line("FAIL", name, format, a...)
}

func (d *doctor) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, bot.CheckTimeout)
}

func (d *doctor) run(ctx context.Context) {
	d.database(ctx)
	d.listen(ctx)
	defer func() {
		if d.ln != nil {
			d.ln.Close()
		}
	}()
	d.runbooks()
	d.runWeek()
	switch {
	case d.cfg.Slack.BotToken != "":
		sc := slackPlatformConfig(d.cfg, nil)
		sc.HTTPClient = d.client
		slack.Check(ctx, sc, d.wantedChannels(), d)
	case d.cfg.Mattermost.URL != "":
		// The button secret lives in the database; any value passes
		// the platform's check of it.
		mc := mattermostPlatformConfig(d.cfg, d.cfg.PublicURL, []byte("doctor"), nil)
		mc.HTTPClient = d.client
		mattermost.Check(ctx, mc, d.wantedChannels(), d)
	default:
		d.OK("chat", "web console only (slack_bot_token or mattermost_url adds a chat platform)")
	}
	d.callback(ctx)
	d.llm(ctx)
}

func describeConfig(cfg config.Config) string {
	if cfg.File == "" {
		return "no file: defaults and RUNBOT_* environment"
	}
	return cfg.File + " and RUNBOT_* environment"
}

// postgres checks a PostgreSQL database: that it answers, with its
// schema brought up to date (or refused as newer than this runbot's),
// and takes writes.
func (d *doctor) postgres(ctx context.Context) {
	url := redact.URL(d.cfg.DB)
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	db, err := openStore(cctx, d.cfg, sqlite.Options{})
	if err != nil {
		d.Fail("database", "%s", bot.OneLine(err))
		return
	}
	defer db.close()
	if err := db.check(cctx); err != nil {
		d.Fail("database", "%s: %s", url, bot.OneLine(err))
		return
	}
	d.OK("database", "%s: PostgreSQL answers, its schema is up to date and it takes writes", url)
	if !strings.EqualFold(d.cfg.DBSync, "normal") {
		d.OK("durability", "db_sync is ignored on PostgreSQL: durability is the server's synchronous_commit")
	}
}

// database checks what runbot needs of its database at start: a directory
// it can write in, a file SQLite opens, migrations that apply, and writes
// that go through.
func (d *doctor) database(ctx context.Context) {
	path := d.cfg.DB
	if d.cfg.Postgres() {
		d.postgres(ctx)
		return
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if problem := writableDir(filepath.Dir(path)); problem != "" {
			d.Fail("database", "%s: %s, or set db / RUNBOT_DB / --db", path, problem)
			return
		}
		d.OK("database", "%s does not exist yet: runbot creates it at start (its directory is writable)", path)
		d.OK("durability", "db_sync: %s: %s", d.cfg.DBSync, durability(strings.ToUpper(d.cfg.DBSync)))
		return
	case err != nil:
		d.Fail("database", "%s: %s: check the path and its permissions, or set db / RUNBOT_DB / --db", path, bot.CheckCause(err))
		return
	case fi.IsDir():
		d.Fail("database", "%s is a directory: set db / RUNBOT_DB / --db to a file in it, like %s", path, filepath.Join(path, "runbot.db"))
		return
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	before, tables, err := schemaVersion(cctx, path)
	switch {
	case err != nil:
		hint := permissionHint(err)
		if strings.Contains(err.Error(), "not a database") {
			hint = ": set db / RUNBOT_DB / --db to runbot's database"
		}
		d.Fail("database", "%s: %s%s", path, bot.CheckCause(err), hint)
		return
	case before == 0 && tables > 0:
		// Migrating it would add runbot's tables to somebody else's data.
		d.Fail("database", "%s is a SQLite database, but not runbot's (it has tables and no runbot schema): set db / RUNBOT_DB / --db to runbot's", path)
		return
	}
	// The doctor runs beside the runbot that owns the database, if any:
	// it takes no lock, and says whose the database is.
	if pid, held := sqlite.Holder(path); held {
		who := "a runbot"
		if pid > 0 {
			who = fmt.Sprintf("a runbot (pid %d)", pid)
		}
		d.OK("lock", "%s is running on %s: a second runbot on it would refuse to start", who, path)
	}
	db, err := openSQLiteDB(sqlite.Beside(cctx), d.cfg, sqlite.Options{})
	if err != nil {
		d.Fail("database", "%s%s", bot.OneLine(err), permissionHint(err))
		return
	}
	defer db.Close()
	if err := db.Check(cctx); err != nil {
		d.Fail("database", "%s: %s%s", path, bot.OneLine(err), permissionHint(err))
		return
	}
	// An empty transaction writes nothing, and in WAL mode a write lands
	// in the -wal file: a main file runbot may not write fails only at the
	// first checkpoint, so ask the filesystem.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fh, err := os.OpenFile(f, os.O_WRONLY, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			d.Fail("database", "%s cannot be written (%s): runbot's user needs write access to it and its directory", f, bot.CheckCause(err))
			return
		}
		fh.Close()
	}
	after, _, err := schemaVersion(cctx, path)
	if err != nil {
		d.Fail("database", "%s: %s", path, bot.CheckCause(err))
		return
	}
	migrated := ""
	switch {
	case before == 0:
		migrated = " (set up now: the file was empty)"
	case after > before:
		migrated = fmt.Sprintf(" (migrated from %d now, as runbot does at start)", before)
	}
	d.OK("database", "%s: schema version %d%s; reads and writes go through", path, after, migrated)

	p, err := sqlite.Pragmas(cctx, db)
	if err != nil {
		d.Fail("durability", "%s", bot.OneLine(err))
		return
	}
	if !strings.EqualFold(p["journal_mode"], "wal") {
		d.Warn("durability", "journal_mode is %s, not wal: the filesystem may not support WAL (network filesystems do not): put the database on a local disk",
			p["journal_mode"])
		return
	}
	d.OK("durability", "WAL, synchronous %s (db_sync: %s): %s", p["synchronous"], d.cfg.DBSync, durability(p["synchronous"]))
}

func durability(synchronous string) string {
	if synchronous == sqlite.SyncFull {
		return "every commit is fsynced: an answered alert survives a power loss"
	}
	return "an answered alert survives a crash of runbot, not a power loss (db_sync: full does, slower)"
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// schemaVersion reads SQLite's user_version, where the migrations record
// how far they went, and counts the tables, without migrating.
func schemaVersion(ctx context.Context, path string) (version, tables int, err error) {
	conn, err := sql.Open("sqlite", sqlite.DSN(path, sqlite.SyncNormal, true))
	if err != nil {
		return 0, 0, fmt.Errorf("opening the database: %w", err)
	}
	defer conn.Close()
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, fmt.Errorf("reading the schema version: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&tables); err != nil {
		return 0, 0, fmt.Errorf("counting tables: %w", err)
	}
	return version, tables, nil
}

// permissionHint is what to do when SQLite may not write.
func permissionHint(err error) string {
	msg := strings.ToLower(err.Error())
	if errors.Is(err, fs.ErrPermission) || strings.Contains(msg, "readonly") || strings.Contains(msg, "unable to open") ||
		strings.Contains(msg, "permission denied") {
		return ": runbot's user needs write access to the file and its directory (SQLite writes -wal and -shm files beside it)"
	}
	return ""
}

// writableDir says what stops runbot from creating a file in dir, or ""
// when nothing does. It creates one: permission bits alone do not tell
// (read-only mounts, ACLs, root).
func writableDir(dir string) string {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("its directory %s does not exist: create it (mkdir -p %s)", dir, dir)
	case err != nil:
		return fmt.Sprintf("its directory %s cannot be read (%s)", dir, bot.CheckCause(err))
	case !fi.IsDir():
		return fmt.Sprintf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".runbot-doctor-*")
	if err != nil {
		return fmt.Sprintf("runbot cannot create files in %s (%s): give runbot's user write access to it", dir, bot.CheckCause(err))
	}
	f.Close()
	os.Remove(f.Name())
	return ""
}

// listen applies Run's rule on tokens and tries the address.
func (d *doctor) listen(ctx context.Context) {
	addr := d.cfg.Listen
	switch {
	case config.IsLoopback(addr):
		d.OK("access", "%s is loopback only", addr)
	case d.cfg.IntakeToken != "" || d.cfg.TrustedUserHeader != "":
		d.OK("access", "%s is beyond loopback, with a token or a trusted proxy header", addr)
	case d.cfg.OIDC.Enabled():
		d.Warn("access", "%s is beyond loopback with single sign-on for the console and no token: the API (alerts, scripts) answers 401 "+
			"until intake_token / RUNBOT_INTAKE_TOKEN is set", addr)
	default:
		d.Fail("access", "%s is beyond loopback without a token: anyone who reaches it could read and post incidents, so runbot refuses to start: "+
			"set intake_token / RUNBOT_INTAKE_TOKEN (or trusted_user_header behind an authenticating proxy), or listen on 127.0.0.1", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		d.ln = ln
		d.OK("listen", "%s is free", addr)
		return
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		d.Fail("listen", "cannot listen on %s (%s): pick another address with listen / RUNBOT_LISTEN / --listen", addr, bot.CheckCause(err))
		return
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	if d.isRunbot(cctx, "http://"+dialable(addr)) {
		d.Warn("listen", "a runbot already answers on %s: fine if it is this one; a second one needs another listen / RUNBOT_LISTEN", addr)
		return
	}
	d.Fail("listen", "something else already listens on %s, so runbot cannot: stop it, or set listen / RUNBOT_LISTEN / --listen", addr)
}

// isRunbot reports whether base answers runbot's health check.
func (d *doctor) isRunbot(ctx context.Context, base string) bool {
	resp, err := d.get(ctx, base+"/healthz", nil)
	if err != nil {
		return false
	}
	return answersHealthy(resp)
}

// answersHealthy reads an answer to GET /healthz, closing it, and reports
// whether it is runbot's {"status": "ok"}.
func answersHealthy(resp *http.Response) bool {
	defer resp.Body.Close()
	var h struct{ Status string }
	return resp.StatusCode == http.StatusOK && json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h) == nil && h.Status == "ok"
}

func (d *doctor) get(ctx context.Context, u string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return d.client.Do(req)
}

// dialable turns a listening address into one to connect to: every
// interface includes loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (d *doctor) runbooks() {
	catalog, err := runbooks.Load(d.cfg.RunbooksDir)
	switch {
	case err != nil:
		d.Fail("runbooks", "%s: runbot would not start: fix the file named", bot.OneLine(err))
	case d.cfg.RunbooksDir == "":
		d.OK("runbooks", "none (runbooks_dir unset): every service gets the built-in checklists")
	default:
		d.OK("runbooks", "%d in %s", len(catalog.Services()), d.cfg.RunbooksDir)
	}
	d.catalog = catalog
}

// runWeek checks that the duty settings agree with each other: each
// mistake here shows only when an incident needs somebody.
func (d *doctor) runWeek() {
	w, members := d.cfg.RunWeek, d.cfg.Members
	problems := 0
	warn := func(format string, a ...any) {
		problems++
		d.Warn("run week", format, a...)
	}
	if len(w.Rotation.Members) == 0 && d.cfg.Policy.RunPerson == "" {
		warn("nobody is on RUN: reminders and breaches call no one: set rotation (members, start, handover) or run_person / RUNBOT_RUN_PERSON")
	}
	if len(members) > 0 {
		isMember := func(name string) bool {
			return slices.ContainsFunc(members, func(m string) bool { return strings.EqualFold(m, name) })
		}
		for _, n := range w.Rotation.Members {
			if !isMember(n) {
				warn("rotation member %s is not in members: on RUN they could not /prio, /resolve or /reopen: add them to members", n)
			}
		}
		for _, n := range w.OnCall.Rotation.Members {
			if !isMember(n) {
				warn("oncall member %s is not in members: paged at night, they could not /prio or /resolve: add them to members", n)
			}
		}
		if p := d.cfg.Policy.RunPerson; p != "" && !isMember(p) {
			warn("run_person %s is not in members: add them to members", p)
		}
	}
	if len(w.Triage.Channels) > 0 && len(members) == 0 {
		warn("triage channels without members: nobody can tell an ask from the team's own talk, so triage is off: list the team under members")
	}
	if problems > 0 {
		return
	}
	who := "run_person " + d.cfg.Policy.RunPerson
	if len(w.Rotation.Members) > 0 {
		who = "rotation " + strings.Join(w.Rotation.Members, ", ")
	}
	if len(w.OnCall.Rotation.Members) > 0 {
		who += "; on call at night: " + strings.Join(w.OnCall.Rotation.Members, ", ")
	}
	if len(w.Triage.Channels) > 0 {
		who += "; triage in " + strings.Join(w.Triage.Channels, ", ")
	}
	d.OK("run week", "%s", who)
}

// wantedChannels are the channels the configuration names besides the
// chat platform's default, with where each is named: the platform checks
// that runbot can post in them.
func (d *doctor) wantedChannels() []bot.WantedChannel {
	var out []bot.WantedChannel
	for _, s := range d.catalog.Services() {
		if e, ok := d.catalog.Lookup(s); ok && e.Channel != "" {
			out = append(out, bot.WantedChannel{Name: e.Channel, From: "the channel of " + e.File})
		}
	}
	for _, c := range d.cfg.RunWeek.Triage.Channels {
		out = append(out, bot.WantedChannel{Name: c, From: "triage.channels"})
	}
	if !d.cfg.RunWeek.MorningOff {
		out = append(out, bot.WantedChannel{Name: d.cfg.RunWeek.MorningChannel, From: "morning_check.channel"})
	}
	return out
}

// callback checks that the chat platform's requests reach runbot: it
// calls <base>/healthz from here. When the listening address was free,
// the doctor answers there itself, so the probe also tells whether the
// URL leads to this address and not elsewhere.
func (d *doctor) callback(ctx context.Context) {
	var who, path, peer string
	switch {
	case d.cfg.Mattermost.URL != "":
		who, path, peer = "Mattermost", "/mattermost/commands", d.cfg.Mattermost.URL
	case d.cfg.Slack.BotToken != "" && d.cfg.Slack.AppToken == "":
		who, path, peer = "Slack", "/slack/commands", orDefault(d.cfg.Slack.APIURL, "https://slack.com/api/")
	default:
		return
	}
	base := strings.TrimRight(d.cfg.PublicURL, "/")
	if base == "" {
		addr := d.cfg.Listen
		if d.ln != nil {
			addr = d.ln.Addr().String()
		}
		base = "http://" + addr
		if !urlIsLoopback(peer) && !reachableHost(addr) {
			d.Fail("callback", "%s at %s cannot call %s%s (runbot's listen address, as public_url is not set): "+
				"set public_url / RUNBOT_PUBLIC_URL to an address %s can reach", who, hostOf(peer), redact.URL(base), path, who)
			return
		}
	}
	nonce := rand.Text()
	serving := d.ln != nil
	if serving {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Runbot-Doctor", nonce)
			fmt.Fprintln(w, `{"status": "ok"}`)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: bot.CheckTimeout}
		go srv.Serve(d.ln)
		defer srv.Close()
		d.ln = nil // srv.Close closes it
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	resp, err := d.get(cctx, base+"/healthz", nil)
	shown := redact.URL(base)
	if err != nil {
		d.Fail("callback", "%s will call %s%s and nothing answers there (%s): set public_url / RUNBOT_PUBLIC_URL to an address %s can reach",
			who, shown, path, bot.CheckCause(err), who)
		return
	}
	isRunbot := answersHealthy(resp)
	switch {
	case serving && resp.Header.Get("X-Runbot-Doctor") == nonce:
		d.OK("callback", "%s leads to runbot's listen address from here; %s must reach it too", shown, who)
	case serving:
		d.Warn("callback", "%s/healthz answered %d, but not from runbot's listen address %s: make public_url (or the proxy in front of runbot) lead there",
			shown, resp.StatusCode, d.cfg.Listen)
	case isRunbot:
		d.OK("callback", "%s answers: runbot runs there", shown)
	default:
		d.Warn("callback", "%s/healthz answered %d, not runbot's health check: make public_url / RUNBOT_PUBLIC_URL lead to runbot", shown, resp.StatusCode)
	}
}

// reachableHost reports whether another machine could connect to a
// listening address as written: not loopback, not "every interface".
func reachableHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || config.IsLoopback(addr) {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.IsUnspecified()
}

func urlIsLoopback(u string) bool {
	pu, err := url.Parse(u)
	return err == nil && pu.Hostname() != "" && config.IsLoopback(net.JoinHostPort(pu.Hostname(), "0"))
}

func hostOf(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Host != "" {
		return pu.Host
	}
	return u
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// llm asks the endpoint for its models: a post-mortem falls back to the
// template when the LLM fails, so problems here are warnings.
func (d *doctor) llm(ctx context.Context) {
	l := d.cfg.LLM
	if l.BaseURL == "" {
		return
	}
	u, header := l.BaseURL+"/models", http.Header{}
	if l.APIKey != "" {
		header.Set("Authorization", "Bearer "+l.APIKey)
	}
	if l.APIType == "azure" {
		u = l.BaseURL + "/openai/models?api-version=" + url.QueryEscape(l.APIVersion)
		header = http.Header{"Api-Key": {l.APIKey}}
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	resp, err := d.get(cctx, u, header)
	base, asked := redact.URL(l.BaseURL), redact.URL(u)
	if err != nil {
		d.Warn("llm", "cannot reach %s (%s): post-mortems would be drafted from the template: check llm.base_url / RUNBOT_LLM_BASE_URL", base, bot.CheckCause(err))
		return
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		d.Warn("llm", "%s refused the key (%d): set RUNBOT_LLM_API_KEY", base, resp.StatusCode)
		return
	default:
		d.Warn("llm", "GET %s answered %d: is llm.base_url the API's base (ending in /v1 for OpenAI, Ollama and vLLM)?", asked, resp.StatusCode)
		return
	}
	var models struct {
		Data []llmModel `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&models); err != nil {
		d.Warn("llm", "GET %s did not answer a list of models (%s): is llm.base_url an OpenAI-compatible API?", asked, bot.CheckCause(err))
		return
	}
	// Azure lists models, not the deployments llm.model names.
	served := l.APIType == "azure" || slices.ContainsFunc(models.Data, func(m llmModel) bool { return m.ID == l.Model })
	if !served {
		d.Warn("llm", "%s does not serve model %q (%d others): fix llm.model / RUNBOT_LLM_MODEL, or pull the model (ollama pull %s)",
			base, l.Model, len(models.Data), l.Model)
		return
	}
	d.OK("llm", "%s answers; model %s", base, l.Model)
}

type llmModel struct {
	ID string `json:"id"`
}
