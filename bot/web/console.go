package web

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/httperr"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/runbooks"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Incidents is what the console reads.
type Incidents interface {
	FindIncident(ctx context.Context, id int64) (*incidents.Incident, error)
	FindIncidents(ctx context.Context, f incidents.IncidentFilter) ([]*incidents.Incident, error)
	Chains(ctx context.Context, id int64) ([]*incidents.Chain, error)
	Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error)
	// TestsReceived lists the last contact point test of each sender:
	// whoever sets up Grafana presses Test and looks at the board to see
	// that runbot heard it.
	TestsReceived(ctx context.Context) ([]incidents.TestReceived, error)
}

// Console serves the web console's pages.
type Console struct {
	platform  *Platform
	store     Store
	incidents Incidents
	runbooks  *runbooks.Catalog
	render    *bot.Renderer
	auth      *Auth
	hub       *Hub
	logger    *slog.Logger
	pages     map[string]*template.Template
	mux       *http.ServeMux
	csrf      *http.CrossOriginProtection
	// morningCheck computes the digest shown on the home page; nil leaves
	// the section out.
	morningCheck   func(ctx context.Context) (digest.Morning, error)
	morningTimeout time.Duration
	banner         func() string
	md             *markdown
	audit          AuditLog // nil: no audit page
}

// ConsoleOptions assemble a Console.
type ConsoleOptions struct {
	Platform  *Platform
	Store     Store
	Incidents Incidents
	Runbooks  *runbooks.Catalog
	Renderer  *bot.Renderer
	Auth      *Auth
	Hub       *Hub
	Logger    *slog.Logger
	// Morning computes the morning check (the chat's /morning) for the
	// home page and /morning; nil means no such section or page.
	Morning func(ctx context.Context) (digest.Morning, error)
	// MorningTimeout bounds the check within a page; zero means 5s.
	MorningTimeout time.Duration
	// Banner, when set, is a warning shown at the top of every page to
	// people signed in ("⚠ chat delivery stuck for 7m: ..."); "" shows none.
	Banner func() string
	// Audit is the audit log the /audit page lists; nil means no page.
	Audit AuditLog
}

// NewConsole builds the console.
func NewConsole(o ConsoleOptions) (*Console, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MorningTimeout <= 0 {
		o.MorningTimeout = defaultMorningTimeout
	}
	c := &Console{platform: o.Platform, store: o.Store, incidents: o.Incidents, runbooks: o.Runbooks, render: o.Renderer,
		auth: o.Auth, hub: o.Hub, logger: o.Logger, pages: map[string]*template.Template{}, mux: http.NewServeMux(),
		csrf: http.NewCrossOriginProtection(), morningCheck: o.Morning,
		morningTimeout: o.MorningTimeout, banner: o.Banner, md: newMarkdown(), audit: o.Audit}
	funcs := template.FuncMap{"runbookPath": func(service string) string { return "/runbooks/" + url.PathEscape(service) }}
	pages, err := parsePages(templateFiles, funcs)
	if err != nil {
		return nil, err
	}
	c.pages = pages
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	c.mux.HandleFunc("GET /favicon.ico", favicon)
	c.mux.HandleFunc("/", c.notFound)
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.logout)
	c.routeOIDC()
	c.mux.Handle("GET /{$}", c.signedIn(c.board))
	c.mux.Handle("GET /incidents/{id}", c.signedIn(c.incident))
	c.mux.Handle("GET /runbooks/{service}", c.signedIn(c.runbook))
	c.mux.Handle("GET /fragments/board", c.signedIn(c.boardFragment))
	c.mux.Handle("GET /fragments/incidents/{id}", c.signedIn(c.incidentFragment))
	if o.Morning != nil {
		c.mux.Handle("GET /morning", c.signedIn(c.morningPage))
		c.mux.Handle("GET /fragments/morning", c.signedIn(c.morningFragment))
	}
	if o.Audit != nil {
		c.mux.Handle("GET /audit", c.signedIn(c.auditPage))
	}
	c.mux.Handle("GET /events", c.signedIn(c.events))
	c.mux.Handle("POST /console/command", c.signedIn(c.command))
	c.mux.Handle("POST /console/reply", c.signedIn(c.reply))
	c.mux.Handle("POST /console/action", c.signedIn(c.action))
	return c, nil
}

// ServeHTTP serves the console. Forms are protected against cross-site
// requests: the session cookie alone must not let another site act.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.csrf.Handler(c.mux).ServeHTTP(w, r)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

type userKey struct{}

// signedIn requires a person: a session, the proxy's user header, or the
// bearer token (scripts, named by the X-Runbot-User header).
func (c *Console) signedIn(next func(http.ResponseWriter, *http.Request, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok, err := c.auth.User(r)
		if err != nil {
			c.fail(w, r, "reading the session", err)
			return
		}
		if !ok && c.auth.Bearer(r) {
			user, ok = r.Header.Get("X-Runbot-User"), r.Header.Get("X-Runbot-User") != ""
		}
		if !ok {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/fragments/") && r.URL.Path != "/events" {
				c.renderPageStatus(w, r, "login", http.StatusUnauthorized, c.loginData(r.URL.RequestURI()))
				return
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first: open the console's home page"})
			return
		}
		next(w, r, user)
	})
}

type pageData struct {
	Banner     string
	Title      string
	Page       string
	User       string
	IncidentID int64
	Said       string
	Next       string
	Name       string // the name typed at a failed sign-in, kept
	NeedToken  bool
	SignInWith string // the identity provider's name: its button replaces the form
	Refused    bool   // the provider vouched for the person; runbot does not let them in

	Board   boardView    // the board page and its live fragment
	Tests   []string     // contact point tests received, one line per source (senders.go)
	Morning *morningView // nil: no morning check configured

	Card           *bot.Card
	Icon           string
	Word           string
	Stream         []streamLine // the incident's thread, made from its timeline
	Labels         labelsView
	RunbookView    runbookView
	Chains         []*incidents.Chain
	Postmortem     *incidents.Postmortem
	PostmortemHTML template.HTML

	MorningOn bool     // the morning check has a page: the navigation links to it
	Problem   string   // why the error page is shown
	Services  []string // the catalog's services, for the error page's way out

	ServiceIncidents []serviceIncident // the runbook's service's active incidents

	AuditOn bool       // the audit log has a page: the navigation links to it
	Audit   *auditView // the audit page
}

func (c *Console) renderPage(w http.ResponseWriter, r *http.Request, page string, d pageData) {
	c.renderPageStatus(w, r, page, http.StatusOK, d)
}

func (c *Console) renderPageStatus(w http.ResponseWriter, r *http.Request, page string, status int, d pageData) {
	d.Page = page
	if d.User != "" { // the sign-in page tells strangers nothing of runbot's state
		if c.banner != nil {
			d.Banner = c.banner()
		}
		d.MorningOn, d.AuditOn = c.morningCheck != nil, c.audit != nil
	} else {
		d.Services = nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
	c.execute(w, page, "layout", status, d)
}

func (c *Console) renderFragment(w http.ResponseWriter, page, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	c.execute(w, page, name, http.StatusOK, d)
}

// fail answers a page or fragment that could not be made, through the
// writer the API shares: the same status for the same error, and one log
// line for an internal one.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	c.pageFailed(w, r, op, err)
}

// formFailed answers a form whose action failed, in the form's shape.
func (c *Console) formFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	answer(w, r, httperr.Log(c.logger, r, op, err), incidents.ErrorMessage(err))
}

// formAnswer answers a form with the reply of what it ran; a refusal
// keeps its status (the router has logged an internal failure).
func formAnswer(w http.ResponseWriter, r *http.Request, rep bot.Reply) {
	answer(w, r, httperr.Status(rep.Code), rep.Text)
}

func (c *Console) incidentData(ctx context.Context, r *http.Request) (pageData, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		// No such page rather than a bad request: the path names nothing.
		return pageData{}, incidents.Errorf(incidents.ENOTFOUND, "there is no incident %q: incidents have numbers, like /incidents/42", r.PathValue("id"))
	}
	inc, err := c.incidents.FindIncident(ctx, id)
	if incidents.ErrorCode(err) == incidents.ENOTFOUND {
		// The store's message names the chat's /incidents, which the
		// console has not: the 404 page offers the board instead.
		return pageData{}, incidents.Errorf(incidents.ENOTFOUND, "runbot has no incident #%d.", id)
	}
	if err != nil {
		return pageData{}, err
	}
	card := c.render.Card(inc)
	icon, word := statusWord(card.Status)
	if card.Word != "" {
		word = card.Word
	}
	d := pageData{Title: fmt.Sprintf("#%d %s", inc.ID, inc.Title), IncidentID: inc.ID, Card: card, Icon: icon, Word: word,
		RunbookView: c.runbookView(c.runbooks.Runbook(inc.Service), 3)}
	loc := c.render.Location
	if loc == nil {
		loc = time.UTC
	}
	d.Stream = stream(inc.Timeline, loc)
	d.Labels = labelsOf(inc, c.runbooks.Replicas(inc.Service))
	if d.Chains, err = c.incidents.Chains(ctx, inc.ID); err != nil {
		return pageData{}, err
	}
	pm, err := c.incidents.Postmortem(ctx, inc.ID, 0)
	switch {
	case err == nil:
		d.Postmortem = pm
		if pm.Drafted() {
			d.PostmortemHTML = c.md.HTML(3, pm.Markdown)
		}
	case incidents.ErrorCode(err) != incidents.ENOTFOUND:
		return pageData{}, err
	}
	return d, nil
}

func (c *Console) incident(w http.ResponseWriter, r *http.Request, user string) {
	d, err := c.incidentData(r.Context(), r)
	if err != nil {
		c.fail(w, r, "showing an incident", err)
		return
	}
	d.User, d.Said = user, r.URL.Query().Get("said")
	c.renderPage(w, r, "incident", d)
}

func (c *Console) incidentFragment(w http.ResponseWriter, r *http.Request, user string) {
	d, err := c.incidentData(r.Context(), r)
	if err != nil {
		c.fail(w, r, "refreshing an incident", err)
		return
	}
	c.renderFragment(w, "incident", "incident", d)
}

// events streams "something changed" to the page. The browser reconnects
// by itself after a restart of runbot, and the page then refreshes.
func (c *Console) events(w http.ResponseWriter, r *http.Request, user string) {
	ch, stop, err := c.hub.Subscribe(user)
	if err != nil {
		// The page's script falls back to refreshing every 30s and tries
		// again later; the log says who opened so many.
		c.logger.Warn("live page refused", "operation", "streaming events", "user", user, "error", err)
		w.Header().Set("Retry-After", "30")
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	}
	defer stop()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // the server's write timeout is for ordinary requests
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, "retry: 1000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.hub.Closed():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case e := <-ch:
			if e.Type == "direct" && e.User != user {
				continue
			}
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// answer replies to a console form: JSON for the page's script, else a
// redirect back with the answer shown.
func answer(w http.ResponseWriter, r *http.Request, status int, reply string) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, status, map[string]string{"reply": reply})
		return
	}
	back := "/"
	if id := r.FormValue("incident"); id != "" {
		back = "/incidents/" + url.PathEscape(id)
	}
	http.Redirect(w, r, back+"?said="+url.QueryEscape(reply), http.StatusSeeOther)
}

func incidentField(r *http.Request) (int64, error) {
	v := r.FormValue("incident")
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not an incident number", v)
	}
	return id, nil
}

func (c *Console) command(w http.ResponseWriter, r *http.Request, user string) {
	id, err := incidentField(r)
	text := strings.TrimSpace(r.FormValue("text"))
	if err != nil || text == "" {
		answer(w, r, http.StatusBadRequest, "type a command, like /ack 42 or /help")
		return
	}
	rep, err := c.platform.Command(r.Context(), user, "", text, id)
	if err != nil {
		c.formFailed(w, r, "running a console command", err)
		return
	}
	formAnswer(w, r, rep)
}

func (c *Console) reply(w http.ResponseWriter, r *http.Request, user string) {
	id, err := incidentField(r)
	text := strings.TrimSpace(r.FormValue("text"))
	if err != nil || id == 0 || text == "" {
		answer(w, r, http.StatusBadRequest, "write something to say in the thread")
		return
	}
	rep, err := c.platform.Say(r.Context(), user, id, text)
	if err != nil {
		c.formFailed(w, r, "replying in a thread", err)
		return
	}
	formAnswer(w, r, rep)
}

func (c *Console) action(w http.ResponseWriter, r *http.Request, user string) {
	id, err := incidentField(r)
	if err != nil || id == 0 || r.FormValue("action") == "" {
		answer(w, r, http.StatusBadRequest, "which button?")
		return
	}
	rep, err := c.platform.Press(r.Context(), user, id, r.FormValue("action"), r.FormValue("value"))
	if err != nil {
		c.formFailed(w, r, "pressing a button", err)
		return
	}
	formAnswer(w, r, rep)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, err := c.auth.User(r); err == nil && ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c.renderPage(w, r, "login", c.loginData(localPath(r.URL.Query().Get("next"))))
}

// localPath returns next when it is a path of the console, else "/":
// after sign-in, a person goes back into the console, never to another
// site. Browsers read a backslash as a slash and drop tabs and newlines,
// so "/\evil.example" and "/\t/evil.example" lead off-site like "//evil.example".
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, ch := range next {
		if ch == '\\' || ch < 0x20 || ch == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.auth.OIDC != nil {
		c.refuseFormSignIn(w, r)
		return
	}
	name := strings.TrimPrefix(strings.TrimSpace(r.FormValue("name")), "@")
	next := localPath(r.FormValue("next"))
	d := c.loginData(next)
	switch {
	case name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n<>\"'"):
		d.Said = "your name, one word: the one your team uses in chat"
	case !c.auth.TokenOK(r.FormValue("token")):
		d.Said, d.Name = "that is not runbot's access token", name
	default:
		// A typed name may be a handle or an email: the session holds the
		// person's name. (OIDC's names come from the token's claims only.)
		if err := c.auth.SignIn(r.Context(), w, c.auth.canonical(name)); err != nil {
			c.fail(w, r, "signing in", err)
			return
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.renderPageStatus(w, r, "login", http.StatusUnauthorized, d)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if err := c.auth.SignOut(r.Context(), w, r); err != nil {
		c.fail(w, r, "signing out", err)
		return
	}
	http.Redirect(w, r, c.afterSignOut(), http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, status int, v any) { httperr.WriteJSON(w, status, v) }
