package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"

	"github.com/runbot-dev/runbot/access"
	"github.com/runbot-dev/runbot/config"
)

// pprofPrefix is where Go's profiler is served when pprof is on.
const pprofPrefix = "/debug/pprof/"

// newPprof serves Go's profiler under /debug/pprof/ when cfg.Pprof is on,
// and answers 404 there otherwise, so that the path never falls through
// to the console. A profile shows what runbot does and holds (goroutine
// stacks name incidents' work, the command line shows flags), so it is
// served to a request carrying the intake token when one is set, and
// otherwise only to a request made on this host, directly: one that a
// reverse proxy forwarded comes from loopback too, and says so in its
// headers.
func newPprof(cfg config.Config) http.Handler {
	if !cfg.Pprof {
		return http.NotFoundHandler()
	}
	mux := http.NewServeMux()
	mux.HandleFunc(pprofPrefix, pprof.Index) // the named profiles: heap, goroutine, allocs, block, mutex...
	mux.HandleFunc(pprofPrefix+"cmdline", pprof.Cmdline)
	mux.HandleFunc(pprofPrefix+"profile", pprof.Profile)
	mux.HandleFunc(pprofPrefix+"symbol", pprof.Symbol)
	mux.HandleFunc(pprofPrefix+"trace", pprof.Trace)
	token, userHeader := cfg.IntakeToken, cfg.TrustedUserHeader
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case token != "":
			if !access.HasToken(r, token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="runbot"`)
				http.Error(w, "missing or wrong bearer token: /debug/pprof takes Authorization: Bearer <RUNBOT_INTAKE_TOKEN>", http.StatusUnauthorized)
				return
			}
		case !directFromLoopback(r, userHeader):
			http.Error(w, "/debug/pprof answers requests made on runbot's host only (or with intake_token set, requests carrying it)", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// directFromLoopback reports whether a request was made on this host and
// not forwarded by a proxy that runs there.
func directFromLoopback(r *http.Request, userHeader string) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	if userHeader != "" && r.Header.Get(userHeader) != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
