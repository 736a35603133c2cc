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
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	slackapi "github.com/slack-go/slack"

	"github.com/runbot-dev/runbot/bot/mattermost"
	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/redact"
	"github.com/runbot-dev/runbot/runbooks"
)

// doctorTimeout bounds every network check: a doctor that hangs on a
// firewall that drops packets tells nobody anything.
const doctorTimeout = 5 * time.Second

// runDoctor is "runbot doctor": it checks the configuration, the database,
// the listening address, the chat platform and the callback URL, one line
// per check, and exits 1 when one failed.
func runDoctor(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("runbot doctor", flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", getenv("RUNBOT_CONFIG"), "YAML configuration `file` (env RUNBOT_CONFIG)")
	fset.String("db", "", "SQLite database `file` (default from the configuration)")
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
		d.fail("config", "%s: runbot would not start: fix the setting named", oneLine(err))
	} else {
		d.cfg, d.redactor = cfg, redact.New(cfg.Secrets())
		d.ok("config", "%s", describeConfig(cfg))
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

func (d *doctor) ok(name, format string, a ...any) { d.line("ok", name, format, a...) }

func (d *doctor) warn(name, format string, a ...any) {
	d.warned++
	d.line("warn", name, format, a...)
}

func (d *doctor) fail(name, format string, a ...any) {
	d.failed++
	d.line("FAIL", name, format, a...)
}

func (d *doctor) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, doctorTimeout)
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
		d.slack(ctx)
	case d.cfg.Mattermost.URL != "":
		d.mattermost(ctx)
	default:
		d.ok("chat", "web console only (slack_bot_token or mattermost_url adds a chat platform)")
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

// database checks what runbot needs of its database at start: a directory
// it can write in, a file SQLite opens, migrations that apply, and writes
// that go through.
func (d *doctor) database(ctx context.Context) {
	path := d.cfg.DB
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if problem := writableDir(filepath.Dir(path)); problem != "" {
			d.fail("database", "%s: %s, or set db / RUNBOT_DB / --db", path, problem)
			return
		}
		d.ok("database", "%s does not exist yet: runbot creates it at start (its directory is writable)", path)
		d.ok("durability", "db_sync: %s: %s", d.cfg.DBSync, durability(strings.ToUpper(d.cfg.DBSync)))
		return
	case err != nil:
		d.fail("database", "%s: %s: check the path and its permissions, or set db / RUNBOT_DB / --db", path, cause(err))
		return
	case fi.IsDir():
		d.fail("database", "%s is a directory: set db / RUNBOT_DB / --db to a file in it, like %s", path, filepath.Join(path, "runbot.db"))
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
		d.fail("database", "%s: %s%s", path, cause(err), hint)
		return
	case before == 0 && tables > 0:
		// Migrating it would add runbot's tables to somebody else's data.
		d.fail("database", "%s is a SQLite database, but not runbot's (it has tables and no runbot schema): set db / RUNBOT_DB / --db to runbot's", path)
		return
	}
	db, err := sqlite.Open(cctx, path, sqlite.Options{Synchronous: strings.ToUpper(d.cfg.DBSync)})
	if err != nil {
		d.fail("database", "%s%s", oneLine(err), permissionHint(err))
		return
	}
	defer db.Close()
	if err := db.Check(cctx); err != nil {
		d.fail("database", "%s: %s%s", path, oneLine(err), permissionHint(err))
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
			d.fail("database", "%s cannot be written (%s): runbot's user needs write access to it and its directory", f, cause(err))
			return
		}
		fh.Close()
	}
	after, _, err := schemaVersion(cctx, path)
	if err != nil {
		d.fail("database", "%s: %s", path, cause(err))
		return
	}
	migrated := ""
	switch {
	case before == 0:
		migrated = " (set up now: the file was empty)"
	case after > before:
		migrated = fmt.Sprintf(" (migrated from %d now, as runbot does at start)", before)
	}
	d.ok("database", "%s: schema version %d%s; reads and writes go through", path, after, migrated)

	p, err := sqlite.Pragmas(cctx, db)
	if err != nil {
		d.fail("durability", "%s", oneLine(err))
		return
	}
	if !strings.EqualFold(p["journal_mode"], "wal") {
		d.warn("durability", "journal_mode is %s, not wal: the filesystem may not support WAL (network filesystems do not): put the database on a local disk",
			p["journal_mode"])
		return
	}
	d.ok("durability", "WAL, synchronous %s (db_sync: %s): %s", p["synchronous"], d.cfg.DBSync, durability(p["synchronous"]))
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
		return fmt.Sprintf("its directory %s cannot be read (%s)", dir, cause(err))
	case !fi.IsDir():
		return fmt.Sprintf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".runbot-doctor-*")
	if err != nil {
		return fmt.Sprintf("runbot cannot create files in %s (%s): give runbot's user write access to it", dir, cause(err))
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
		d.ok("access", "%s is loopback only", addr)
	case d.cfg.IntakeToken != "" || d.cfg.TrustedUserHeader != "":
		d.ok("access", "%s is beyond loopback, with a token or a trusted proxy header", addr)
	default:
		d.fail("access", "%s is beyond loopback without a token: anyone who reaches it could read and post incidents, so runbot refuses to start: "+
			"set intake_token / RUNBOT_INTAKE_TOKEN (or trusted_user_header behind an authenticating proxy), or listen on 127.0.0.1", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		d.ln = ln
		d.ok("listen", "%s is free", addr)
		return
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		d.fail("listen", "cannot listen on %s (%s): pick another address with listen / RUNBOT_LISTEN / --listen", addr, cause(err))
		return
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	if d.isRunbot(cctx, "http://"+dialable(addr)) {
		d.warn("listen", "a runbot already answers on %s: fine if it is this one; a second one needs another listen / RUNBOT_LISTEN", addr)
		return
	}
	d.fail("listen", "something else already listens on %s, so runbot cannot: stop it, or set listen / RUNBOT_LISTEN / --listen", addr)
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
		d.fail("runbooks", "%s: runbot would not start: fix the file named", oneLine(err))
	case d.cfg.RunbooksDir == "":
		d.ok("runbooks", "none (runbooks_dir unset): every service gets the built-in checklists")
	default:
		d.ok("runbooks", "%d in %s", len(catalog.Services()), d.cfg.RunbooksDir)
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
		d.warn("run week", format, a...)
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
	d.ok("run week", "%s", who)
}

// wantedChannel is a channel the configuration names besides the
// platform's default, with where it is named.
type wantedChannel struct{ name, from string }

func (d *doctor) otherChannels(defaultChannel string, trim func(string) string) []wantedChannel {
	seen := map[string]bool{trim(defaultChannel): true}
	var out []wantedChannel
	add := func(name, from string) {
		if name = trim(name); name != "" && !seen[name] {
			seen[name] = true
			out = append(out, wantedChannel{name, from})
		}
	}
	for _, s := range d.catalog.Services() {
		if e, ok := d.catalog.Lookup(s); ok && e.Channel != "" {
			add(e.Channel, "the channel of "+e.File)
		}
	}
	for _, c := range d.cfg.RunWeek.Triage.Channels {
		add(c, "triage.channels")
	}
	if !d.cfg.RunWeek.MorningOff {
		add(d.cfg.RunWeek.MorningChannel, "morning_check.channel")
	}
	return out
}

func (d *doctor) slack(ctx context.Context) {
	c := d.cfg.Slack
	// The platform's own checks first: what it refuses, Run refuses.
	if _, err := slack.New(slack.Config{BotToken: c.BotToken, AppToken: c.AppToken, SigningSecret: c.SigningSecret,
		APIURL: c.APIURL, DefaultChannel: c.Channel}); err != nil {
		d.fail("slack", "%s", oneLine(err))
		return
	}
	apiURL := "https://slack.com/api/"
	if c.APIURL != "" {
		apiURL = strings.TrimRight(c.APIURL, "/") + "/"
	}
	opts := []slackapi.Option{slackapi.OptionAPIURL(apiURL), slackapi.OptionHTTPClient(d.client)}
	if c.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(c.AppToken))
	}
	api := slackapi.New(c.BotToken, opts...)

	cctx, cancel := d.bounded(ctx)
	me, err := api.AuthTestContext(cctx)
	cancel()
	if err != nil {
		if code := slackCode(err); code != "" {
			d.fail("slack token", "Slack refused the bot token (%s): copy the Bot User OAuth Token (xoxb-...) into slack_bot_token / RUNBOT_SLACK_BOT_TOKEN", code)
		} else {
			d.fail("slack token", "auth.test at %s failed (%s): check slack_api_url / RUNBOT_SLACK_API_URL, the network and any proxy (HTTPS_PROXY)", redact.URL(apiURL), cause(err))
		}
		return
	}
	d.ok("slack token", "runbot is @%s (%s) in %s", me.User, me.UserID, me.Team)
	d.slackChannels(ctx, api)
	d.slackMode(ctx, api)
}

func (d *doctor) slackChannels(ctx context.Context, api *slackapi.Client) {
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	known := map[string]slackapi.Channel{}
	cursor := ""
	for {
		chans, next, err := api.GetConversationsContext(cctx, &slackapi.GetConversationsParameters{
			Cursor: cursor, Limit: 1000, ExcludeArchived: true, Types: []string{"public_channel", "private_channel"}})
		if err != nil {
			var se slackapi.SlackErrorResponse
			if errors.As(err, &se) && se.Err == "missing_scope" {
				d.fail("slack channel", "Slack refused conversations.list (missing_scope, needs %s): add the channels:read and groups:read scopes "+
					"under OAuth & Permissions, then reinstall the app", se.Needed)
				return
			}
			d.fail("slack channel", "listing channels failed (%s): try again; if it persists, check the app's scopes (channels:read, groups:read)", cause(err))
			return
		}
		for _, ch := range chans {
			known[ch.Name], known[ch.ID] = ch, ch
		}
		if next == "" {
			break
		}
		cursor = next
	}
	trim := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "#") }
	def := trim(d.cfg.Slack.Channel)
	switch ch, ok := known[def]; {
	case !ok && isSlackChannelID(def):
		d.fail("slack channel", "channel %s not found among the channels runbot can see: set slack_channel / RUNBOT_SLACK_CHANNEL to an existing channel, "+
			"or /invite @runbot in it if it is private", def)
	case !ok:
		d.fail("slack channel", "channel #%s not found: create it or set slack_channel / RUNBOT_SLACK_CHANNEL "+
			"(a private channel shows only once runbot is in it: /invite @runbot there)", def)
	case !ch.IsMember:
		d.fail("slack channel", "runbot is not a member of #%s: /invite @runbot in #%s", ch.Name, ch.Name)
	default:
		d.ok("slack channel", "#%s (%s): runbot is a member", ch.Name, ch.ID)
	}
	others := d.otherChannels(def, trim)
	bad := 0
	for _, w := range others {
		switch ch, ok := known[w.name]; {
		case !ok:
			bad++
			d.fail("slack channel", "channel #%s (%s) not found: create it and /invite @runbot, or fix %s", w.name, w.from, w.from)
		case !ch.IsMember:
			bad++
			d.fail("slack channel", "runbot is not a member of #%s (%s): /invite @runbot in #%s", w.name, w.from, w.name)
		}
	}
	if len(others) > 0 && bad == 0 {
		d.ok("slack channels", "runbot is in %s", channelList("#", others))
	}
}

func (d *doctor) slackMode(ctx context.Context, api *slackapi.Client) {
	if d.cfg.Slack.AppToken == "" {
		d.ok("slack mode", "HTTP: Slack's requests are verified with slack_signing_secret")
		return
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	if _, _, err := api.StartSocketModeContext(cctx); err != nil {
		if code := slackCode(err); code != "" {
			d.fail("slack app token", "Slack refused the app token (%s): generate an App-Level Token with connections:write (Basic Information → App-Level Tokens), "+
				"put it in slack_app_token / RUNBOT_SLACK_APP_TOKEN, and turn Socket Mode on", code)
		} else {
			d.fail("slack app token", "apps.connections.open failed (%s): check the network and any proxy (HTTPS_PROXY)", cause(err))
		}
		return
	}
	d.ok("slack app token", "Socket Mode: Slack opens connections for the app token")
}

// isSlackChannelID tells the ids Slack gives channels, which
// slack_channel may hold instead of a name.
func isSlackChannelID(s string) bool {
	if len(s) < 5 || (s[0] != 'C' && s[0] != 'G') {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) < 0
}

// slackCode is the error code of a Web API refusal ("invalid_auth"), or
// "" when Slack did not answer.
func slackCode(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func (d *doctor) mattermost(ctx context.Context) {
	c := d.cfg.Mattermost
	var cmds []mattermost.Command
	for _, ci := range (&commands.Router{}).Commands() {
		cmds = append(cmds, mattermost.Command{Trigger: ci.Name, Hint: ci.Args(), Description: ci.Summary})
	}
	// The platform's own checks first: what it refuses, Run refuses. The
	// button secret lives in the database; any value passes its check.
	mp, err := mattermost.New(mattermost.Config{URL: c.URL, Token: c.Token, Team: c.Team, DefaultChannel: c.Channel,
		ActionSecret: []byte("doctor"), CommandTokens: c.CommandTokens, Commands: cmds})
	if err != nil {
		d.fail("mattermost", "%s", oneLine(err))
		return
	}
	api := model.NewAPIv4Client(c.URL)
	api.SetToken(c.Token)
	api.HTTPClient = d.client

	cctx, cancel := d.bounded(ctx)
	me, resp, err := api.GetMe(cctx, "")
	cancel()
	if err != nil {
		switch st := mmStatus(resp, err); {
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			d.fail("mattermost token", "Mattermost refused the token (%d %s): copy the bot account's access token (Integrations → Bot Accounts) "+
				"into mattermost_token / RUNBOT_MATTERMOST_TOKEN", st, mmMessage(err))
		case st == 0:
			d.fail("mattermost token", "cannot reach Mattermost at %s (%s): check mattermost_url / RUNBOT_MATTERMOST_URL and the network", redact.URL(c.URL), cause(err))
		default:
			d.fail("mattermost token", "%s/api/v4/users/me answered %d (%s): is mattermost_url / RUNBOT_MATTERMOST_URL Mattermost's address?", redact.URL(c.URL), st, mmMessage(err))
		}
		return
	}
	d.ok("mattermost token", "runbot is @%s (%s)", me.Username, me.Id)

	team := d.mmTeam(ctx, api, me)
	if team == nil {
		return
	}
	trim := func(s string) string { return strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "~"), "#") }
	def := trim(c.Channel)
	switch problem := d.mmChannel(ctx, api, team, me, def); {
	case problem == "":
		d.ok("mattermost channel", "~%s: runbot is a member", def)
	case strings.HasPrefix(problem, "warn: "):
		d.warn("mattermost channel", "%s", strings.TrimPrefix(problem, "warn: "))
	default:
		d.fail("mattermost channel", "%s, or set mattermost_channel / RUNBOT_MATTERMOST_CHANNEL", problem)
	}
	others := d.otherChannels(def, trim)
	bad := 0
	for _, w := range others {
		switch problem := d.mmChannel(ctx, api, team, me, w.name); {
		case problem == "":
		case strings.HasPrefix(problem, "warn: "):
			bad++
			d.warn("mattermost channel", "%s (%s)", strings.TrimPrefix(problem, "warn: "), w.from)
		default:
			bad++
			d.fail("mattermost channel", "%s, or fix %s", problem, w.from)
		}
	}
	if len(others) > 0 && bad == 0 {
		d.ok("mattermost channels", "runbot is in %s", channelList("~", others))
	}
	d.mmCommands(ctx, api, team, me, mp.Triggers())
}

// mmTeam finds the team and checks that runbot is in it; nil when not.
func (d *doctor) mmTeam(ctx context.Context, api *model.Client4, me *model.User) *model.Team {
	name := d.cfg.Mattermost.Team
	ctx, cancel := d.bounded(ctx)
	defer cancel()
	team, resp, err := api.GetTeamByName(ctx, name, "")
	if err != nil {
		if st := mmStatus(resp, err); st == http.StatusNotFound || st == http.StatusForbidden {
			d.fail("mattermost team", "team %q not found, or runbot is not in it: set mattermost_team / RUNBOT_MATTERMOST_TEAM to the team's name "+
				"as in its URL, and add the bot to the team", name)
		} else {
			d.fail("mattermost team", "reading team %q failed (%s)", name, cause(err))
		}
		return nil
	}
	m, resp, err := api.GetTeamMember(ctx, team.Id, me.Id, "")
	switch st := mmStatus(resp, err); {
	case err != nil && st != http.StatusNotFound && st != http.StatusForbidden:
		d.fail("mattermost team", "reading runbot's membership of team %s failed (%s)", name, cause(err))
		return nil
	case err != nil || m.DeleteAt != 0:
		d.fail("mattermost team", "runbot is not in team %s: add the bot to the team (the team's menu → Add members)", name)
		return nil
	}
	d.ok("mattermost team", "%s (%s): runbot is a member", team.Name, team.Id)
	return team
}

// mmChannel says what is wrong with a channel for runbot: "" for
// nothing, "warn: ..." for what runbot gets over by itself.
func (d *doctor) mmChannel(ctx context.Context, api *model.Client4, team *model.Team, me *model.User, name string) string {
	ctx, cancel := d.bounded(ctx)
	defer cancel()
	ch, resp, err := api.GetChannelByName(ctx, name, team.Id, "")
	if err != nil {
		if st := mmStatus(resp, err); st == http.StatusNotFound || st == http.StatusForbidden {
			return fmt.Sprintf("channel ~%s not found in team %s: create it (a private one needs /invite @runbot in it)", name, team.Name)
		}
		return fmt.Sprintf("reading channel ~%s failed (%s): try again", name, cause(err))
	}
	if _, resp, err := api.GetChannelMember(ctx, ch.Id, me.Id, ""); err != nil {
		if st := mmStatus(resp, err); st != http.StatusNotFound && st != http.StatusForbidden {
			return fmt.Sprintf("reading runbot's membership of ~%s failed (%s): try again", name, cause(err))
		}
		if ch.Type == model.ChannelTypeOpen {
			return fmt.Sprintf("warn: runbot is not in ~%s: it joins at its first post there, but sees nothing posted before: /invite @runbot in ~%s", name, name)
		}
		return fmt.Sprintf("runbot is not in the private channel ~%s: /invite @runbot in ~%s", name, name)
	}
	return ""
}

// mmCommands checks that the slash commands can exist: runbot registers
// them itself when it may, else they are registered by hand and their
// tokens configured.
func (d *doctor) mmCommands(ctx context.Context, api *model.Client4, team *model.Team, me *model.User, triggers []mattermost.Command) {
	tokens := len(d.cfg.Mattermost.CommandTokens)
	ctx, cancel := d.bounded(ctx)
	defer cancel()
	list, resp, err := api.ListCommands(ctx, team.Id, true)
	switch st := mmStatus(resp, err); {
	case err != nil && st == http.StatusForbidden && tokens > 0:
		d.ok("mattermost commands", "registered by hand: %d tokens in mattermost_command_tokens", tokens)
	case err != nil && st == http.StatusForbidden:
		d.warn("mattermost commands", "runbot may not manage slash commands in team %s and mattermost_command_tokens is empty, so /runbot answers nothing: "+
			"make the bot a team admin (System Console → Teams → %s), or register the commands by hand and set mattermost_command_tokens", team.Name, team.Name)
	case err != nil:
		d.warn("mattermost commands", "listing slash commands failed (%s): runbot tries again at start", cause(err))
	default:
		there := 0
		for _, c := range list {
			if c.DeleteAt == 0 && c.CreatorId == me.Id && slices.ContainsFunc(triggers, func(t mattermost.Command) bool { return t.Trigger == c.Trigger }) {
				there++
			}
		}
		d.ok("mattermost commands", "runbot may manage slash commands: it creates or updates its %d at start (%d already there)", len(triggers), there)
	}
}

func mmStatus(resp *model.Response, err error) int {
	if resp != nil && resp.StatusCode != 0 {
		return resp.StatusCode
	}
	var ae *model.AppError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func mmMessage(err error) string {
	var ae *model.AppError
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return cause(err)
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
			d.fail("callback", "%s at %s cannot call %s%s (runbot's listen address, as public_url is not set): "+
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
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: doctorTimeout}
		go srv.Serve(d.ln)
		defer srv.Close()
		d.ln = nil // srv.Close closes it
	}
	cctx, cancel := d.bounded(ctx)
	defer cancel()
	resp, err := d.get(cctx, base+"/healthz", nil)
	shown := redact.URL(base)
	if err != nil {
		d.fail("callback", "%s will call %s%s and nothing answers there (%s): set public_url / RUNBOT_PUBLIC_URL to an address %s can reach",
			who, shown, path, cause(err), who)
		return
	}
	isRunbot := answersHealthy(resp)
	switch {
	case serving && resp.Header.Get("X-Runbot-Doctor") == nonce:
		d.ok("callback", "%s leads to runbot's listen address from here; %s must reach it too", shown, who)
	case serving:
		d.warn("callback", "%s/healthz answered %d, but not from runbot's listen address %s: make public_url (or the proxy in front of runbot) lead there",
			shown, resp.StatusCode, d.cfg.Listen)
	case isRunbot:
		d.ok("callback", "%s answers: runbot runs there", shown)
	default:
		d.warn("callback", "%s/healthz answered %d, not runbot's health check: make public_url / RUNBOT_PUBLIC_URL lead to runbot", shown, resp.StatusCode)
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
		d.warn("llm", "cannot reach %s (%s): post-mortems would be drafted from the template: check llm.base_url / RUNBOT_LLM_BASE_URL", base, cause(err))
		return
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		d.warn("llm", "%s refused the key (%d): set RUNBOT_LLM_API_KEY", base, resp.StatusCode)
		return
	default:
		d.warn("llm", "GET %s answered %d: is llm.base_url the API's base (ending in /v1 for OpenAI, Ollama and vLLM)?", asked, resp.StatusCode)
		return
	}
	var models struct {
		Data []llmModel `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&models); err != nil {
		d.warn("llm", "GET %s did not answer a list of models (%s): is llm.base_url an OpenAI-compatible API?", asked, cause(err))
		return
	}
	// Azure lists models, not the deployments llm.model names.
	served := l.APIType == "azure" || slices.ContainsFunc(models.Data, func(m llmModel) bool { return m.ID == l.Model })
	if !served {
		d.warn("llm", "%s does not serve model %q (%d others): fix llm.model / RUNBOT_LLM_MODEL, or pull the model (ollama pull %s)",
			base, l.Model, len(models.Data), l.Model)
		return
	}
	d.ok("llm", "%s answers; model %s", base, l.Model)
}

type llmModel struct {
	ID string `json:"id"`
}

func channelList(prefix string, chans []wantedChannel) string {
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = prefix + c.name
	}
	return strings.Join(names, ", ")
}

// cause is the innermost useful words of an error: "connection refused",
// not the URL and the dial that the line already names.
func cause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", doctorTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return oneLine(err)
}

// oneLine keeps a joined error on its check's line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
