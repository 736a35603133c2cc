package web

import (
	"html/template"
	"strings"
	"testing"
	"testing/fstest"
)

// TestIncompletePagesStopTheStart: a page using a template its set does
// not define fails at start, naming the page, instead of serving a blank
// 200 (as every runbook page did).
func TestIncompletePagesStopTheStart(t *testing.T) {
	good := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}<main>{{template "content" .}}</main>{{end}}`)},
		"templates/digest.html": {Data: []byte(`{{define "morning"}}m{{end}}`)},
		"templates/parts.html":  {Data: []byte(`{{define "runbook"}}r{{end}}`)},
	}
	for _, p := range pageTemplates {
		body := `{{define "content"}}` + p.name + `{{end}}`
		for _, f := range p.fragments {
			body += `{{define "` + f + `"}}f{{end}}`
		}
		good["templates/"+p.name+".html"] = &fstest.MapFile{Data: []byte(body)}
	}
	if _, err := parsePages(good, template.FuncMap{}); err != nil {
		t.Fatalf("a complete set: %v", err)
	}

	broken := fstest.MapFS{}
	for k, v := range good {
		broken[k] = v
	}
	broken["templates/runbook.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{template "steps" .}}{{end}}`)}
	if _, err := parsePages(broken, template.FuncMap{}); err == nil || !strings.Contains(err.Error(), "runbook page") {
		t.Fatalf("a page using an undefined template: %v, want an error naming the runbook page", err)
	}
	delete(broken, "templates/runbook.html")
	broken["templates/incident.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}i{{end}}`)}
	if _, err := parsePages(broken, template.FuncMap{}); err == nil || !strings.Contains(err.Error(), "incident") {
		t.Fatalf("a page without the fragment its script fetches: %v", err)
	}
}
