package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/runbot-dev/runbot/httperr"
	"github.com/runbot-dev/runbot/incidents"
)

// sharedTemplates are parsed into every page, so that no page can miss a
// part another page defines (the runbook pages were blank for lack of
// one): the layout and its command box, the morning check's section, the
// status marker and the runbook.
var sharedTemplates = []string{"templates/layout.html", "templates/digest.html", "templates/parts.html"}

// pageTemplates names each page's own file, defining its "content", and
// the fragments the page's script fetches from it.
var pageTemplates = []struct {
	name      string
	fragments []string
}{
	{"board", []string{"boardfragment"}},
	{"incident", []string{"incident"}},
	{"runbook", nil},
	{"login", nil},
	{"morning", []string{"morning"}},
	{"error", nil},
	{"audit", nil},
}

// parsePages parses every page and renders each, and each of its
// fragments, once with no data: a page that uses a template its set does
// not define, or that html/template cannot escape, stops runbot at start
// instead of serving a blank page.
func parsePages(fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, p := range pageTemplates {
		files := append(append([]string{}, sharedTemplates...), "templates/"+p.name+".html")
		t, err := template.New(p.name).Funcs(funcs).ParseFS(fsys, files...)
		if err != nil {
			return nil, fmt.Errorf("parsing the %s page: %w", p.name, err)
		}
		for _, name := range append([]string{"layout"}, p.fragments...) {
			if err := t.ExecuteTemplate(io.Discard, name, pageData{}); err != nil {
				return nil, fmt.Errorf("checking the %s page's %q template: %w", p.name, name, err)
			}
		}
		pages[p.name] = t
	}
	return pages, nil
}

// execute renders a template into memory first: a template that fails
// halfway answers 500 with a page saying so, never a blank or cut 200.
func (c *Console) execute(w http.ResponseWriter, page, name string, status int, d pageData) {
	var b bytes.Buffer
	err := c.pages[page].ExecuteTemplate(&b, name, d)
	if err != nil {
		c.logger.Error("rendering a page failed", "operation", "rendering the "+page+" page", "template", name, "error", err)
		b.Reset()
		status = http.StatusInternalServerError
		if name == "layout" && page != "error" {
			d.Page, d.Title, d.Problem = "error", "Something went wrong", "runbot could not show this page; its log says why."
			if err := c.pages["error"].ExecuteTemplate(&b, "layout", d); err != nil {
				b.Reset()
			}
		}
		if b.Len() == 0 {
			b.WriteString("runbot could not show this page; its log says why.\n")
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // the status is sent; a broken connection has nobody left to tell
}

// wantsPage reports whether a failed request is a person's browser asking
// for a page, rather than the page's script (a fragment, the event stream,
// an answer in JSON).
func wantsPage(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		!strings.HasPrefix(r.URL.Path, "/fragments/") && r.URL.Path != "/events" &&
		!strings.Contains(r.Header.Get("Accept"), "application/json")
}

// problemPage answers a page that could not be shown with a page of the
// console: what went wrong in words, and where to go from there.
func (c *Console) problemPage(w http.ResponseWriter, r *http.Request, status int, problem string) {
	d := pageData{Problem: problem, Services: c.runbooks.Services()}
	if user, ok, err := c.auth.User(r); err == nil && ok {
		d.User = user
	}
	d.Title = "Something went wrong"
	switch status {
	case http.StatusNotFound:
		d.Title = "Not found"
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", httperr.RetryAfter)
	}
	c.renderPageStatus(w, r, "error", status, d)
}

// pageFailed answers a page whose data could not be read: a missing
// incident is a 404 page, runbot's own failure a 500 page, logged once.
func (c *Console) pageFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	if !wantsPage(r) {
		httperr.Fail(w, r, c.logger, op, err)
		return
	}
	c.problemPage(w, r, httperr.Log(c.logger, r, op, err), incidents.ErrorMessage(err))
}

// notFound answers every path the console does not have: a page for a
// person, with a way back; a script's method on a page's path is told
// which method that path takes.
func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if !wantsPage(r) {
			httperr.Respond(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
			return
		}
		c.problemPage(w, r, http.StatusNotFound, fmt.Sprintf("runbot has no page %s.", r.URL.Path))
		return
	}
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	if _, pattern := c.mux.Handler(get); pattern != "" && pattern != "/" {
		w.Header().Set("Allow", "GET, HEAD")
		httperr.Respond(w, r, http.StatusMethodNotAllowed, "this page is read with GET")
		return
	}
	httperr.Respond(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
}

// favicon is runbot's tab icon, served where browsers look for it by
// themselves, so that no page logs a 404 for it.
func favicon(w http.ResponseWriter, r *http.Request) {
	b, err := staticFiles.ReadFile("static/favicon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(b)
}
