package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/people"
)

// provider is an OpenID Connect provider for one test: mockoidc, whose
// token answers a test can spoil on the way out.
type provider struct {
	*mockoidc.MockOIDC
	mu sync.Mutex
	// spoil rewrites the next token answer's ID token.
	spoil func(idToken string) string
	// endSession, when set, is the end_session_endpoint the discovery
	// document names (mockoidc's names none).
	endSession string
}

func startProvider(t testing.TB) *provider {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{MockOIDC: m}
	if err := m.AddMiddleware(p.spoiler); err != nil {
		t.Fatal(err)
	}
	if err := m.AddMiddleware(p.discovery); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return p
}

func (p *provider) setSpoil(f func(string) string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spoil = f
}

func (p *provider) spoiler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mockoidc.TokenEndpoint {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		tok, ok := "", false
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil {
			tok, ok = body["id_token"].(string)
		}
		p.mu.Lock()
		spoil := p.spoil
		if ok {
			// Spent on an answer that carries a token: oauth2 may ask
			// twice, learning how the provider takes the client secret.
			p.spoil = nil
		}
		p.mu.Unlock()
		if ok && spoil != nil {
			body["id_token"] = spoil(tok)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		if ok && spoil != nil {
			json.NewEncoder(w).Encode(body)
			return
		}
		w.Write(rec.Body.Bytes())
	})
}

func (p *provider) discovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		end := p.endSession
		p.mu.Unlock()
		if r.URL.Path != mockoidc.DiscoveryEndpoint || end == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		doc["end_session_endpoint"] = end
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	})
}

// person is someone at the provider. edit changes the ID token's standard
// claims before they are signed (an expired token, another audience);
// extra adds claims (another groups claim).
type person struct {
	*mockoidc.MockUser
	edit  func(*mockoidc.IDTokenClaims)
	extra map[string]any
}

func (u *person) Claims(scope []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.edit != nil {
		u.edit(base)
	}
	c, err := u.MockUser.Claims(scope, base)
	if err != nil || u.extra == nil {
		return c, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m jwt.MapClaims
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range u.extra {
		m[k] = v
	}
	return m, nil
}

func newPerson(sub, email string, groups ...string) *person {
	return &person{MockUser: &mockoidc.MockUser{Subject: sub, Email: email, EmailVerified: true, PreferredUsername: sub, Groups: groups}}
}

// oidcConfig is runbot signing people in through p, on a port of its own
// so that public_url (and with it the callback) is known before it starts.
// alice and bob are the members; alice is known by her email, bob by
// his subject.
func oidcConfig(t *testing.T, p *provider) config.Config {
	t.Helper()
	cfg := engineConfig(t)
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.PublicURL = "http://" + cfg.Listen
	cfg.OIDC = config.OIDC{Issuer: p.Issuer(), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		Scopes: []string{"openid", "email", "profile", "groups"}, GroupsClaim: "groups", Contact: "the platform team in #ops"}
	dir, err := people.New([]people.Person{{Name: "alice", Email: "Alice@Example.com"}, {Name: "bob", Subject: "bob-sub-42"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.People = dir
	return cfg
}

// flow is one browser's sign-in, step by step, with its cookies.
type flow struct {
	t      testing.TB
	client *http.Client
}

func newFlow(t testing.TB) *flow {
	jar, _ := cookiejar.New(nil)
	return &flow{t: t, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (f *flow) get(u string) (int, string, string) {
	f.t.Helper()
	resp, err := f.client.Get(u)
	if err != nil {
		f.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// toCallback starts a sign-in at runbot and goes through the provider,
// returning the callback URL the provider sends the browser to.
func (f *flow) toCallback(base string) string {
	f.t.Helper()
	code, loc, body := f.get(base + "/oidc/login?next=%2Fmorning")
	if code != http.StatusFound || loc == "" {
		f.t.Fatalf("/oidc/login: %d %q %s", code, loc, body)
	}
	at, _ := url.Parse(loc)
	q := at.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		f.t.Fatalf("the provider is asked without PKCE (S256), nonce or state: %s", loc)
	}
	code, cb, body := f.get(loc)
	if code != http.StatusFound || !strings.HasPrefix(cb, base+"/oidc/callback?") {
		f.t.Fatalf("the provider's authorize: %d %q %s", code, cb, body)
	}
	return cb
}

// signInAs signs in through the provider; it returns the callback's
// status, where it leads and the page it shows.
func (f *flow) signInAs(base string, p *provider, u *person) (int, string, string) {
	f.t.Helper()
	p.QueueUser(u)
	return f.get(f.toCallback(base))
}

func (f *flow) session(base string) *http.Cookie {
	u, _ := url.Parse(base)
	for _, c := range f.client.Jar.Cookies(u) {
		if c.Name == "runbot_session" {
			return c
		}
	}
	return nil
}

// consoleCommand runs a command from the console's command box as the
// session's person and returns the reply.
func (f *flow) consoleCommand(base, text string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest("POST", base+"/console/command", strings.NewReader(url.Values{"text": {text}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Reply string `json:"reply"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Reply
}

// TestOIDCNamesThePersonTheProviderSignedIn: the console asks for no
// name and no token, refuses a typed name, and names whoever signs in as
// the directory knows them (by email or subject), else by their verified
// email, else by their subject; members-only commands follow that name.
func TestOIDCNamesThePersonTheProviderSignedIn(t *testing.T) {
	p := startProvider(t)
	b := startBot(t, oidcConfig(t, p))

	var page string
	if code := callRaw(t, "GET", b.url+"/", nil, &page); code != 401 || !strings.Contains(page, "Sign in with 127.0.0.1") ||
		strings.Contains(page, `id="name"`) || strings.Contains(page, `id="token"`) {
		t.Fatalf("the sign-in page: %d; want 401, the provider's button and no name or token field:\n%s", code, page)
	}
	resp, err := http.PostForm(b.url+"/login", url.Values{"name": {"alice"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) > 0 {
		t.Fatalf("a typed name with OIDC on: %d, cookies %v; want 403 and no session\n%s", resp.StatusCode, resp.Cookies(), body)
	}

	id := postAlert(t, b, `{"service":"checkout","summary":"placing order: 502","priority":"P2"}`)
	for i, c := range []struct {
		who    *person
		name   string
		member bool
	}{
		{newPerson("alice-sub", "alice@example.com"), "alice", true}, // the directory's email, in another case
		{newPerson("bob-sub-42", "bob@elsewhere.example"), "bob", true},
		{newPerson("carol-sub", "carol@example.com"), "carol@example.com", false},
		{&person{MockUser: &mockoidc.MockUser{Subject: "eve-sub", Email: "alice@example.com"}}, "eve-sub", false}, // an unverified email names nobody
	} {
		f := newFlow(t)
		code, loc, page := f.signInAs(b.url, p, c.who)
		if code != http.StatusSeeOther || loc != "/morning" || f.session(b.url) == nil {
			t.Fatalf("%s signing in: %d to %q, session %v\n%s", c.name, code, loc, f.session(b.url), page)
		}
		_, _, board := f.get(b.url + "/")
		if !strings.Contains(board, "<span>"+c.name+"</span>") {
			t.Errorf("%s: the console does not show who is signed in:\n%s", c.name, board)
		}
		code, reply := f.consoleCommand(b.url, fmt.Sprintf("/prio %d P%d", id, 3+i%2))
		if c.member && (code != 200 || strings.Contains(reply, "only team members")) {
			t.Errorf("%s, a member, requalifying: %d %q", c.name, code, reply)
		}
		if !c.member && (code != http.StatusForbidden || !strings.Contains(reply, "only team members")) {
			t.Errorf("%s, no member, requalifying: %d %q; want the refusal", c.name, code, reply)
		}
	}
	for _, e := range getIncident(t, b, id).Timeline {
		if e.Kind == "priority" && e.Actor != "alice" && e.Actor != "bob" {
			t.Errorf("the timeline names %q for a change of priority", e.Actor)
		}
	}
}

// TestOIDCRefusesTokensThatDoNotVerify: a token is worth its signature,
// its issuer, its audience, its expiry and its nonce; one that fails any
// starts no session.
func TestOIDCRefusesTokensThatDoNotVerify(t *testing.T) {
	p := startProvider(t)
	b := startBot(t, oidcConfig(t, p))
	other, err := mockoidc.RandomKeypair(2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		edit  func(*mockoidc.IDTokenClaims)
		spoil func(string) string
	}{
		{name: "a flipped signature byte", spoil: func(tok string) string {
			i := strings.LastIndexByte(tok, '.') + 5
			ch := byte('A')
			if tok[i] == 'A' {
				ch = 'B'
			}
			return tok[:i] + string(ch) + tok[i+1:]
		}},
		{name: "another key", spoil: func(tok string) string {
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
				t.Error(err)
			}
			forged, err := other.SignJWT(claims)
			if err != nil {
				t.Error(err)
			}
			return forged
		}},
		{name: "another audience", edit: func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"another-client"} }},
		{name: "another issuer", edit: func(c *mockoidc.IDTokenClaims) { c.Issuer = "http://127.0.0.1:1/oidc" }},
		{name: "expired", edit: func(c *mockoidc.IDTokenClaims) {
			c.IssuedAt, c.NotBefore = jwt.NewNumericDate(time.Now().Add(-time.Hour)), jwt.NewNumericDate(time.Now().Add(-time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-50 * time.Minute))
		}},
		{name: "another sign-in's nonce", edit: func(c *mockoidc.IDTokenClaims) { c.Nonce = "not-this-sign-in" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p.setSpoil(c.spoil)
			f := newFlow(t)
			u := newPerson("alice-sub", "alice@example.com")
			u.edit = c.edit
			code, _, page := f.signInAs(b.url, p, u)
			if code != http.StatusUnauthorized || f.session(b.url) != nil || !strings.Contains(page, "could not verify") {
				t.Fatalf("%d, session %v; want 401 and no session\n%s", code, f.session(b.url), page)
			}
		})
	}
	if !strings.Contains(b.logs.String(), "verifying the id token") {
		t.Errorf("the log does not say why:\n%s", b.logs)
	}
}

// TestOIDCRefusesACallbackThisBrowserDidNotStart: the callback's state
// must be the one this browser's sign-in sealed in its cookie.
func TestOIDCRefusesACallbackThisBrowserDidNotStart(t *testing.T) {
	p := startProvider(t)
	b := startBot(t, oidcConfig(t, p))

	f := newFlow(t)
	p.QueueUser(newPerson("alice-sub", "alice@example.com"))
	cb, _ := url.Parse(f.toCallback(b.url))
	q := cb.Query()
	q.Set("state", "forged-"+q.Get("state"))
	cb.RawQuery = q.Encode()
	if code, _, page := f.get(cb.String()); code != http.StatusBadRequest || f.session(b.url) != nil {
		t.Errorf("a foreign state: %d, session %v; want 400 and none\n%s", code, f.session(b.url), page)
	}

	// A callback carried to another browser (a link sent around) finds no
	// sign-in there.
	p.QueueUser(newPerson("alice-sub", "alice@example.com"))
	cb2 := f.toCallback(b.url)
	g := newFlow(t)
	if code, _, page := g.get(cb2); code != http.StatusBadRequest || g.session(b.url) != nil || !strings.Contains(page, "start again") {
		t.Errorf("a callback in another browser: %d; want 400 and no session\n%s", code, page)
	}
	// Nor is the state good twice.
	if code, _, _ := f.get(cb2); code != http.StatusSeeOther {
		t.Fatalf("the callback in its own browser: %d", code)
	}
	if code, _, _ := newFlow(t).get(cb2); code != http.StatusBadRequest {
		t.Errorf("the callback replayed: %d, want 400", code)
	}
}

// TestOIDCLetsInOnlyTheAllowedDomainsAndGroups: a person the provider
// vouches for but runbot does not let in sees why and whom to ask.
func TestOIDCLetsInOnlyTheAllowedDomainsAndGroups(t *testing.T) {
	p := startProvider(t)
	cfg := oidcConfig(t, p)
	cfg.OIDC.AllowedDomains, cfg.OIDC.AllowedGroups = []string{"example.com"}, []string{"sre", "oncall"}
	b := startBot(t, cfg)
	unverified := newPerson("eve-sub", "eve@example.com", "sre")
	unverified.EmailVerified = false
	for _, c := range []struct {
		who  *person
		want int
		says string
	}{
		{newPerson("m-sub", "mallory@other.example", "sre"), 403, "lets in only people of example.com"},
		{newPerson("d-sub", "dave@example.com", "sales"), 403, "only the groups sre, oncall"},
		{newPerson("n-sub", "nina@example.com"), 403, "only the groups sre, oncall"},
		{unverified, 403, "without an email"},
		{newPerson("alice-sub", "alice@EXAMPLE.com", "oncall"), 303, ""},
	} {
		f := newFlow(t)
		code, _, page := f.signInAs(b.url, p, c.who)
		if code != c.want || (c.want == 403) != (f.session(b.url) == nil) {
			t.Errorf("%s: %d, session %v; want %d\n%s", c.who.Email, code, f.session(b.url), c.want, page)
			continue
		}
		if c.want == 403 && (!strings.Contains(page, c.says) || !strings.Contains(page, "the platform team in #ops") || !strings.Contains(page, "Not let in")) {
			t.Errorf("%s: the refusal does not say why and whom to ask (%q):\n%s", c.who.Email, c.says, page)
		}
	}

	// Groups may come in another claim.
	cfg.OIDC.GroupsClaim, cfg.OIDC.AllowedGroups = "roles", []string{"runbot-users"}
	b.stop()
	b = startBot(t, cfg)
	roles := newPerson("r-sub", "rita@example.com", "sre")
	roles.extra = map[string]any{"roles": []string{"runbot-users"}}
	if code, _, page := newFlow(t).signInAs(b.url, p, roles); code != http.StatusSeeOther {
		t.Errorf("groups in the roles claim: %d\n%s", code, page)
	}
	if code, _, _ := newFlow(t).signInAs(b.url, p, newPerson("s-sub", "sam@example.com", "runbot-users")); code != http.StatusForbidden {
		t.Errorf("the groups claim read when roles is configured: %d, want 403", code)
	}
}

// TestOIDCSessionsEndWithTheirRule: a session is worth the rule it was
// made under. Switching to OIDC ends the typed-name sessions, changing who
// OIDC lets in ends the OIDC ones, and sign-out ends a session for good.
func TestOIDCSessionsEndWithTheirRule(t *testing.T) {
	p := startProvider(t)
	cfg := oidcConfig(t, p)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	plain := cfg
	plain.OIDC = config.OIDC{}
	b := startBot(t, plain)
	typed := signIn(t, b.url, "alice", "")
	b.stop()

	b = startBot(t, cfg)
	if code := withCookie(t, "GET", b.url+"/", typed); code != 401 {
		t.Errorf("a typed-name session under OIDC: %d, want 401", code)
	}
	f := newFlow(t)
	if code, _, page := f.signInAs(b.url, p, newPerson("alice-sub", "alice@example.com", "sre")); code != http.StatusSeeOther {
		t.Fatalf("signing in: %d\n%s", code, page)
	}
	session := *f.session(b.url)
	b.stop()

	cfg.OIDC.AllowedGroups = []string{"sre"}
	b = startBot(t, cfg)
	if code := withCookie(t, "GET", b.url+"/", &session); code != 401 {
		t.Errorf("a session made before the groups were restricted: %d, want 401", code)
	}
	f = newFlow(t)
	if code, _, _ := f.signInAs(b.url, p, newPerson("alice-sub", "alice@example.com", "sre")); code != http.StatusSeeOther {
		t.Fatalf("signing in again: %d", code)
	}
	copied := *f.session(b.url)
	if code := withCookie(t, "POST", b.url+"/logout", &copied); code != http.StatusSeeOther {
		t.Fatalf("signing out: %d", code)
	}
	if code := withCookie(t, "GET", b.url+"/", &copied); code != 401 {
		t.Errorf("a signed-out session: %d, want 401", code)
	}
}

// TestOIDCKeepsTheAPIForTheToken: beyond loopback OIDC lets runbot start,
// the console asking for the provider's sign-in, but the API, which no
// provider signs in to, answers only the bearer token; without one it is
// closed and says what to set.
func TestOIDCKeepsTheAPIForTheToken(t *testing.T) {
	p := startProvider(t)
	cfg := oidcConfig(t, p)
	port := freePort(t)
	cfg.Listen, cfg.PublicURL = fmt.Sprintf("0.0.0.0:%d", port), fmt.Sprintf("http://127.0.0.1:%d", port)
	b := startBot(t, cfg)
	base := cfg.PublicURL
	var body string
	if code := callBody(t, "POST", base+"/api/v1/commands", map[string]string{"Content-Type": "application/json"},
		`{"text": "/incidents", "user": "alice"}`, &body); code != 401 || !strings.Contains(body, "intake_token") {
		t.Errorf("the API beyond loopback with OIDC and no token: %d %s; want 401 naming intake_token", code, body)
	}
	if code := callRaw(t, "GET", base+"/", nil, &body); code != 401 || !strings.Contains(body, `id="sso"`) {
		t.Errorf("the console beyond loopback: %d; want the provider's sign-in\n%s", code, body)
	}
	b.stop()

	cfg.IntakeToken = strings.Repeat("t", 32)
	startBot(t, cfg)
	if code := call(t, "GET", base+"/api/v1/incidents", "", "", nil); code != 401 {
		t.Errorf("the API without the token: %d, want 401", code)
	}
	if code := call(t, "GET", base+"/api/v1/incidents", cfg.IntakeToken, "", nil); code != 200 {
		t.Errorf("the API with the token: %d, want 200", code)
	}
}

// TestOIDCStartsWhileTheProviderIsDown: alerts must come in whatever the
// identity provider does; the sign-in says it does not answer, and works
// once it does.
func TestOIDCStartsWhileTheProviderIsDown(t *testing.T) {
	p := startProvider(t)
	cfg := oidcConfig(t, p)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.OIDC.Issuer = "http://" + addr + "/oidc"
	b := startBot(t, cfg)
	postAlert(t, b, `{"service":"checkout","summary":"placing order: 502"}`)
	f := newFlow(t)
	if code, _, page := f.get(b.url + "/oidc/login"); code != http.StatusBadGateway || !strings.Contains(page, "does not answer") {
		t.Errorf("signing in while the provider is down: %d\n%s", code, page)
	}
	if !strings.Contains(b.logs.String(), "discovering the identity provider") {
		t.Errorf("the log does not say what failed:\n%s", b.logs)
	}

	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ClientID, m.ClientSecret = p.ClientID, p.ClientSecret
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	if code, loc, page := f.signInAs(b.url, &provider{MockOIDC: m}, newPerson("alice-sub", "alice@example.com")); code != http.StatusSeeOther || loc != "/morning" {
		t.Errorf("signing in once the provider is back: %d %q\n%s", code, loc, page)
	}
}

// TestOIDCSignInGoesThroughPublicURL: the state cookie must be set for
// the host the provider sends people back to, so a sign-in begun under
// another name for runbot moves to public_url first, once.
func TestOIDCSignInGoesThroughPublicURL(t *testing.T) {
	p := startProvider(t)
	cfg := oidcConfig(t, p)
	b := startBot(t, cfg)
	other := strings.Replace(b.url, "127.0.0.1", "localhost", 1)
	f := newFlow(t)
	code, loc, _ := f.get(other + "/oidc/login?next=%2Fmorning")
	if want := cfg.PublicURL + "/oidc/login?via=public_url&next=%2Fmorning"; code != http.StatusSeeOther || loc != want {
		t.Fatalf("a sign-in begun at %s: %d to %q, want %q", other, code, loc, want)
	}
	if code, loc, _ := f.get(other + "/oidc/login?via=public_url&next=%2Fmorning"); code != http.StatusFound || !strings.HasPrefix(loc, p.AuthorizationEndpoint()) {
		t.Errorf("a sign-in already sent through public_url: %d to %q, want the provider", code, loc)
	}
}

// TestDoctorTellsOfTheClosedAPI: the doctor applies Run's rule, under
// which OIDC alone lets runbot start beyond loopback with its API closed.
func TestDoctorTellsOfTheClosedAPI(t *testing.T) {
	env := doctorEnv(t)
	env["RUNBOT_LISTEN"], env["RUNBOT_PUBLIC_URL"] = "0.0.0.0:0", "https://runbot.example.com"
	env["RUNBOT_OIDC_ISSUER"], env["RUNBOT_OIDC_CLIENT_ID"], env["RUNBOT_OIDC_CLIENT_SECRET"] = "https://login.example.com", "runbot", "client-secret"
	r := runDoctorCmd(t, env)
	r.wantLine(t, "warn", "access", "the API (alerts, scripts) answers 401", "RUNBOT_INTAKE_TOKEN")
}

// TestOIDCSignOutGoesThroughTheProvider: where the provider offers a
// sign-out, ending runbot's session goes on to it, so that the next
// person at a shared screen is not signed straight back in.
func TestOIDCSignOutGoesThroughTheProvider(t *testing.T) {
	p := startProvider(t)
	p.mu.Lock()
	p.endSession = p.Addr() + "/oidc/logout"
	p.mu.Unlock()
	cfg := oidcConfig(t, p)
	b := startBot(t, cfg)
	f := newFlow(t)
	if code, _, page := f.signInAs(b.url, p, newPerson("alice-sub", "alice@example.com")); code != http.StatusSeeOther {
		t.Fatalf("signing in: %d\n%s", code, page)
	}
	session := *f.session(b.url)
	req, _ := http.NewRequest("POST", b.url+"/logout", nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != p.endSession ||
		loc.Query().Get("client_id") != p.ClientID || loc.Query().Get("post_logout_redirect_uri") != cfg.PublicURL+"/login" {
		t.Errorf("signing out: %d to %q; want the provider's end_session_endpoint, back to %s/login", resp.StatusCode, resp.Header.Get("Location"), cfg.PublicURL)
	}
	if code := withCookie(t, "GET", b.url+"/", &session); code != 401 {
		t.Errorf("the session after signing out: %d, want 401", code)
	}
}
