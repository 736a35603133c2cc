package runbooks

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeDir writes files (name -> content) into a fresh directory.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, dir string) *Catalog {
	t.Helper()
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return c
}

func mustLookup(t *testing.T, c *Catalog, service string) Entry {
	t.Helper()
	e, ok := c.Lookup(service)
	if !ok {
		t.Fatalf("Lookup(%q): not found; services %v", service, c.Services())
	}
	return e
}

const userSync = `---
service: user-sync-service
owner: team-identity
channel: "#identity-run"
replicas: 2
dashboards:
  - https://grafana.example.com/d/a
  - https://grafana.example.com/d/b
escalation: Identity lead, then platform on-call
url: https://wiki.example.com/user-sync
aliases: [user-sync, USERSYNC]
---

Syncs users from the directory.

- Check the pods
- Rotate the token

`

func TestLoadFrontMatter(t *testing.T) {
	dir := writeDir(t, map[string]string{"user-sync-service.md": userSync})
	c := mustLoad(t, dir)

	got := mustLookup(t, c, "user-sync-service")
	want := Entry{
		Service:    "user-sync-service",
		Owner:      "team-identity",
		Channel:    "#identity-run",
		Replicas:   2,
		Dashboards: []string{"https://grafana.example.com/d/a", "https://grafana.example.com/d/b"},
		Escalation: "Identity lead, then platform on-call",
		URL:        "https://wiki.example.com/user-sync",
		Aliases:    []string{"user-sync", "USERSYNC"},
		Body:       "Syncs users from the directory.\n\n- Check the pods\n- Rotate the token",
		File:       filepath.Join(dir, "user-sync-service.md"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entry:\n got %#v\nwant %#v", got, want)
	}
	if s := c.Services(); !reflect.DeepEqual(s, []string{"user-sync-service"}) {
		t.Errorf("Services() = %v", s)
	}
}

func TestServiceKeyOverridesFileName(t *testing.T) {
	dir := writeDir(t, map[string]string{"users.md": "---\nservice: user-sync-service\n---\n- step\n"})
	c := mustLoad(t, dir)
	if _, ok := c.Lookup("users"); ok {
		t.Error("Lookup(users) found an entry: the file name must not count once service is set")
	}
	if e := mustLookup(t, c, "user-sync-service"); e.Service != "user-sync-service" {
		t.Errorf("Service = %q", e.Service)
	}
}

func TestLookupAliasesAndCase(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"user-sync-service.md": userSync,
		"Document-Service.md":  "- check the store\n",
	})
	c := mustLoad(t, dir)
	for _, name := range []string{"user-sync-service", "USER-SYNC-SERVICE", "user-sync", "User-Sync", "usersync", "  usersync  "} {
		e, ok := c.Lookup(name)
		if !ok || e.Service != "user-sync-service" {
			t.Errorf("Lookup(%q) = %q, %v; want user-sync-service", name, e.Service, ok)
		}
	}
	if e := mustLookup(t, c, "document-service"); e.Service != "Document-Service" {
		t.Errorf("Service = %q, want the file's own spelling Document-Service", e.Service)
	}
	if _, ok := c.Lookup("billing"); ok {
		t.Error("Lookup(billing) found an entry")
	}
	if s := c.Services(); !reflect.DeepEqual(s, []string{"Document-Service", "user-sync-service"}) {
		t.Errorf("Services() = %v, want sorted names without aliases", s)
	}
	r := c.Runbook("usersync")
	if r.Service != "user-sync-service" || !r.HasEntry {
		t.Errorf("Runbook(alias) = service %q, HasEntry %v", r.Service, r.HasEntry)
	}
}

func TestLookupReturnsCopies(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{"user-sync-service.md": userSync}))
	e := mustLookup(t, c, "user-sync")
	e.Dashboards[0] = "changed"
	e.Aliases[0] = "changed"
	r := c.Runbook("user-sync")
	r.Steps[0].Items[0] = "changed"
	r.Entry.Dashboards[1] = "changed"
	c.Services()[0] = "changed"

	again := mustLookup(t, c, "user-sync")
	if again.Dashboards[0] != "https://grafana.example.com/d/a" || again.Dashboards[1] != "https://grafana.example.com/d/b" || again.Aliases[0] != "user-sync" {
		t.Errorf("catalog changed through a returned entry: %v %v", again.Dashboards, again.Aliases)
	}
	if item := c.Runbook("user-sync").Steps[0].Items[0]; item != "Check the pods" {
		t.Errorf("catalog changed through a returned runbook: %q", item)
	}
	if s := c.Services()[0]; s != "user-sync-service" {
		t.Errorf("catalog changed through Services(): %q", s)
	}
}

func TestBodyChecklist(t *testing.T) {
	body := "---\nowner: x\n---\n" + `# Payments runbook

Restore first.
Then look.

1. Check the pods:
   ` + "```sh" + `
   kubectl get pods   # - not an item
   # not a heading

   kubectl logs deploy/payments
   ` + "```" + `
2. Look at errors
   - one customer: hand over
   - all customers:
     * rotate the key
3) Roll back

## Afterwards

* [ ] Write the timeline
+ Close the incident
  with a note
`
	c := mustLoad(t, writeDir(t, map[string]string{"payments.md": body}))
	r := c.Runbook("payments")
	if len(r.Steps) != 1 {
		t.Fatalf("Steps = %d checklists, want 1", len(r.Steps))
	}
	got := r.Steps[0]
	want := Checklist{
		Name:  "payments",
		Intro: "# Payments runbook\n\nRestore first.\nThen look.",
		Items: []string{
			"Check the pods:\n```sh\nkubectl get pods   # - not an item\n# not a heading\n\nkubectl logs deploy/payments\n```",
			"Look at errors\n- one customer: hand over\n- all customers:\n  * rotate the key",
			"Roll back",
			"Write the timeline",
			"Close the incident\nwith a note",
		},
	}
	if got.Name != want.Name || got.Intro != want.Intro {
		t.Errorf("name, intro = %q, %q\nwant %q, %q", got.Name, got.Intro, want.Name, want.Intro)
	}
	if !reflect.DeepEqual(got.Items, want.Items) {
		t.Errorf("items:\n got %q\nwant %q", got.Items, want.Items)
	}
}

func TestBodyWithoutListIsIntro(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{"wiki.md": "See the wiki page.\n\n---\n\nAsk #platform.\n"}))
	got := c.Runbook("wiki").Steps
	want := []Checklist{{Name: "wiki", Intro: "See the wiki page.\n\n---\n\nAsk #platform."}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Steps = %#v\nwant %#v", got, want)
	}
}

func TestNoFrontMatter(t *testing.T) {
	content := "\n# Billing\n\nowner: not front matter\n\n- Check the queue\n"
	dir := writeDir(t, map[string]string{"billing.md": content})
	e := mustLookup(t, mustLoad(t, dir), "billing")
	want := Entry{
		Service: "billing",
		Body:    "# Billing\n\nowner: not front matter\n\n- Check the queue",
		File:    filepath.Join(dir, "billing.md"),
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("entry:\n got %#v\nwant %#v", e, want)
	}
}

func TestCRLFAndEmptyFrontMatter(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.md": "---\r\nowner: team-a\r\nreplicas: 3\r\n---\r\n- one\r\n- two\r\n",
		"b.md": "---\n# nothing yet\n---\nbody\n",
	})
	c := mustLoad(t, dir)
	a := mustLookup(t, c, "a")
	if a.Owner != "team-a" || a.Replicas != 3 || a.Body != "- one\n- two" {
		t.Errorf("a = %#v", a)
	}
	if b := mustLookup(t, c, "b"); b.Owner != "" || b.Body != "body" {
		t.Errorf("b = %#v", b)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		wants []string // each must appear in the error, after replacing FILE with the path
	}{
		{
			name:  "unknown key",
			file:  "---\nservice: user-sync-service\nowner: team-identity\nreplica: 2\n---\n",
			wants: []string{`FILE: line 4: unknown key "replica" (known: aliases, channel, dashboards, escalation, owner, replicas, service, url)`},
		},
		{
			name:  "replicas not a number",
			file:  "---\nowner: team-identity\n\nreplicas: two\n---\n",
			wants: []string{`FILE: line 4: replicas: "two" is not a whole number`},
		},
		{
			name:  "negative replicas",
			file:  "---\nreplicas: -1\n---\n",
			wants: []string{`FILE: line 2: replicas: "-1" is not a whole number`},
		},
		{
			name:  "replicas as a list",
			file:  "---\nreplicas: [2]\n---\n",
			wants: []string{`FILE: line 2: replicas: must be a whole number`},
		},
		{
			name:  "dashboards not a list",
			file:  "---\ndashboards: https://grafana.example.com\n---\n",
			wants: []string{`FILE: line 2: dashboards: must be a list`},
		},
		{
			name:  "bad list item names its own line",
			file:  "---\naliases:\n  - users\n  - {a: b}\n---\n",
			wants: []string{`FILE: line 4: aliases: item 2 must be a single value`},
		},
		{
			name:  "owner as a map",
			file:  "---\nowner:\n  team: identity\n---\n",
			wants: []string{`FILE: line 3: owner: must be a single value`},
		},
		{
			name:  "empty service",
			file:  "---\nservice: \"\"\n---\n",
			wants: []string{`FILE: line 2: service: must not be empty`},
		},
		{
			name:  "key set twice",
			file:  "---\nowner: a\nchannel: b\nowner: c\n---\n",
			wants: []string{`FILE: line 4: key "owner" is set twice (first on line 2)`},
		},
		{
			name:  "yaml syntax",
			file:  "---\nowner: a\nchannel: [b\n---\n",
			wants: []string{`FILE: line `, `invalid front matter`},
		},
		{
			name:  "not a mapping",
			file:  "---\n- a\n- b\n---\n",
			wants: []string{`FILE: line 2: front matter must be keys and values`},
		},
		{
			name:  "never closed",
			file:  "---\nowner: a\n\n- step\n",
			wants: []string{`FILE: line 1: front matter opened with --- is never closed`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"user-sync-service.md": tt.file})
			c, err := Load(dir)
			if err == nil {
				t.Fatalf("Load: no error; catalog has %v", c.Services())
			}
			if c != nil {
				t.Error("Load returned a catalog along with the error")
			}
			for _, w := range tt.wants {
				w = strings.ReplaceAll(w, "FILE", filepath.Join(dir, "user-sync-service.md"))
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestYAMLErrorLineIsTheFileLine(t *testing.T) {
	// yaml reports the stray colon on line 3 of the front matter, which is
	// line 4 of the file.
	dir := writeDir(t, map[string]string{"x.md": "---\nowner: a\nchannel: b\nescalation: c: d\n---\n"})
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "x.md")+": line 4: invalid front matter") {
		t.Errorf("error = %v, want it on file line 4", err)
	}
}

func TestDuplicateServiceNamesBothFiles(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "service key clashes with a file name",
			files: map[string]string{
				"a-users.md":           "---\nservice: user-sync-service\n---\n",
				"user-sync-service.md": "- step\n",
			},
			want: `user-sync-service.md: service "user-sync-service" is also claimed by A`,
		},
		{
			name: "alias clashes with a service, ignoring case",
			files: map[string]string{
				"a-users.md":           "---\naliases: [User-Sync-Service]\n---\n",
				"user-sync-service.md": "- step\n",
			},
			want: `user-sync-service.md: service "user-sync-service" is also claimed by A`,
		},
		{
			name: "two aliases clash",
			files: map[string]string{
				"a-users.md":           "---\naliases: [users]\n---\n",
				"user-sync-service.md": "---\naliases: [users]\n---\n",
			},
			want: `user-sync-service.md: alias "users" is also claimed by A`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load: no error for a service claimed twice")
			}
			want := filepath.Join(dir, strings.ReplaceAll(tt.want, " A", " "+filepath.Join(dir, "a-users.md")))
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\ndoes not contain %q", err, want)
			}
		})
	}
}

func TestAliasOfItselfIsFine(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{"users.md": "---\naliases: [Users, u, u]\n---\n"}))
	if e := mustLookup(t, c, "u"); e.Service != "users" {
		t.Errorf("Lookup(u) = %q", e.Service)
	}
}

func TestLoadReportsEveryBrokenFile(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.md":  "---\nreplica: 1\n---\n",
		"b.md":  "---\nreplicas: many\n---\n",
		"ok.md": "- fine\n",
	})
	_, err := Load(dir)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{filepath.Join(dir, "a.md") + ": line 2: unknown key", filepath.Join(dir, "b.md") + ": line 2: replicas"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
}

func TestLoadDir(t *testing.T) {
	c, err := Load("")
	if err != nil || c == nil || len(c.Services()) != 0 {
		t.Errorf(`Load("") = %v, %v; want an empty catalog`, c, err)
	}

	missing := filepath.Join(t.TempDir(), "no-such-dir")
	c, err = Load(missing)
	if err == nil {
		t.Fatalf("Load(missing dir) = %v services, no error", c.Services())
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "reading runbooks dir "+missing) {
		t.Errorf("error = %v, want a not-exist error naming the dir", err)
	}

	dir := writeDir(t, map[string]string{
		"README.md":    "# How to write runbooks\n",
		".draft.md":    "- hidden\n",
		"notes.txt":    "not markdown",
		"billing.md":   "- check\n",
		"billing.md~":  "- backup\n",
		"payments.yml": "owner: x\n",
	})
	if err := os.Mkdir(filepath.Join(dir, "images.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	if s := mustLoad(t, dir).Services(); !reflect.DeepEqual(s, []string{"billing"}) {
		t.Errorf("Services() = %v, want only billing", s)
	}
}

func TestUnknownServiceGetsBuiltins(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{"user-sync-service.md": userSync}))
	for _, cat := range []*Catalog{c, Empty(), nil} {
		r := cat.Runbook(" billing ")
		if r.Service != "billing" || r.HasEntry || !reflect.DeepEqual(r.Entry, Entry{}) {
			t.Errorf("Runbook(billing) = %q, HasEntry %v, entry %#v", r.Service, r.HasEntry, r.Entry)
		}
		if !reflect.DeepEqual(r.Steps, []Checklist{DrillDown(), BottomUp()}) {
			t.Errorf("Steps = %#v, want the built-ins", r.Steps)
		}
	}
}

func TestEntryWithoutBodyGetsBuiltins(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{"billing.md": "---\nowner: team-billing\n---\n\n"}))
	r := c.Runbook("billing")
	if !r.HasEntry || r.Entry.Owner != "team-billing" {
		t.Errorf("HasEntry %v, entry %#v", r.HasEntry, r.Entry)
	}
	if !reflect.DeepEqual(r.Steps, []Checklist{DrillDown(), BottomUp()}) {
		t.Errorf("Steps = %#v, want the built-ins", r.Steps)
	}
}

func TestBuiltins(t *testing.T) {
	d, b := DrillDown(), BottomUp()
	if d.Name != "drill-down" || b.Name != "bottom-up" {
		t.Errorf("names = %q, %q", d.Name, b.Name)
	}
	// The seed practice's order matters: broad to fine, runtime to browser.
	checkOrder(t, d, "reproduce", "dashboards", "availability", "infrastructure", "network -> server -> application -> configuration -> code")
	checkOrder(t, b, "running", "version", "Dependencies", "routing", "logs", "code changes", "browser")
	d.Items[0] = "changed"
	if DrillDown().Items[0] == "changed" {
		t.Error("DrillDown shares its items between calls")
	}
}

// checkOrder asserts each word appears in the checklist's items, in order.
func checkOrder(t *testing.T, c Checklist, words ...string) {
	t.Helper()
	all := strings.Join(c.Items, "\n")
	at := 0
	for _, w := range words {
		i := strings.Index(all[at:], w)
		if i < 0 {
			t.Errorf("%s: %q missing or out of order in %q", c.Name, w, c.Items)
			return
		}
		at += i + len(w)
	}
}

func TestMarkdown(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{
		"user-sync-service.md": `---
owner: team-identity
channel: "#identity-run"
replicas: 2
dashboards: [https://grafana.example.com/d/a, https://grafana.example.com/d/b]
escalation: Camille
url: https://wiki.example.com/user-sync
---
Syncs users.

- Check the pods:
  ` + "```" + `
  kubectl get pods
  ` + "```" + `
- Rotate the token
`,
	}))
	got := c.Runbook("user-sync-service").Markdown()
	want := "**Runbook: user-sync-service**\n" +
		"Owner: team-identity · Channel: #identity-run · Escalation: Camille · Replicas: 2\n" +
		"Dashboards: https://grafana.example.com/d/a, https://grafana.example.com/d/b\n" +
		"Runbook page: https://wiki.example.com/user-sync\n" +
		"\n" +
		"Syncs users.\n" +
		"\n" +
		"1. Check the pods:\n" +
		"   ```\n" +
		"   kubectl get pods\n" +
		"   ```\n" +
		"2. Rotate the token"
	if got != want {
		t.Errorf("Markdown():\n%s\n--- want ---\n%s", got, want)
	}
}

func TestMarkdownBuiltins(t *testing.T) {
	got := Empty().Runbook("billing").Markdown()
	for _, w := range []string{
		"**Runbook: billing**\n",
		"No runbook for billing yet",
		"billing.md",
		"**drill-down**\nFrom the broad view to the fine.",
		"\n1. " + DrillDown().Items[0] + "\n",
		"\n5. " + DrillDown().Items[4] + "\n",
		"**bottom-up**\n",
		"\n6. " + BottomUp().Items[5],
	} {
		if !strings.Contains(got, w) {
			t.Errorf("Markdown() does not contain %q:\n%s", w, got)
		}
	}
	for _, absent := range []string{"Owner:", "Channel:", "Dashboards:", "Runbook page:"} {
		if strings.Contains(got, absent) {
			t.Errorf("Markdown() shows %q for a service with no entry:\n%s", absent, got)
		}
	}
	if strings.Index(got, "drill-down") > strings.Index(got, "bottom-up") {
		t.Error("bottom-up rendered before drill-down")
	}
}

func TestSummary(t *testing.T) {
	c := mustLoad(t, writeDir(t, map[string]string{
		"a.md":     "Intro.\n\n- first\n  - nested detail\n- second\n- third\n",
		"prose.md": "\n\nSee https://wiki.example.com/prose\nand ask #platform.\n",
	}))
	r := c.Runbook("a")
	tests := []struct {
		max  int
		want string
	}{
		{0, ""},
		{-1, ""},
		{1, "1. first"},
		{2, "1. first\n2. second"},
		{10, "1. first\n2. second\n3. third"},
	}
	for _, tt := range tests {
		if got := r.Summary(tt.max); got != tt.want {
			t.Errorf("Summary(%d) = %q, want %q", tt.max, got, tt.want)
		}
	}

	// Built-ins number straight through both checklists.
	b := Empty().Runbook("x")
	lines := strings.Split(b.Summary(7), "\n")
	if len(lines) != 7 || lines[0] != "1. "+DrillDown().Items[0] || lines[5] != "6. "+BottomUp().Items[0] {
		t.Errorf("Summary(7) of built-ins = %q", lines)
	}

	if got := c.Runbook("prose").Summary(3); got != "See https://wiki.example.com/prose" {
		t.Errorf("Summary of a prose runbook = %q", got)
	}
}

func TestLoadTestdata(t *testing.T) {
	c := mustLoad(t, "testdata")
	if s := c.Services(); !reflect.DeepEqual(s, []string{"document-service", "user-sync-service"}) {
		t.Fatalf("Services() = %v", s)
	}

	us := mustLookup(t, c, "usersync")
	if us.Service != "user-sync-service" || us.Owner != "team-identity" || us.Channel != "#identity-run" ||
		us.Replicas != 2 || len(us.Dashboards) != 2 || us.File != filepath.Join("testdata", "user-sync-service.md") {
		t.Errorf("user-sync-service = %#v", us)
	}
	r := c.Runbook("User-Sync")
	if len(r.Steps) != 1 || len(r.Steps[0].Items) != 5 {
		t.Fatalf("user-sync-service steps = %#v", r.Steps)
	}
	if item := r.Steps[0].Items[1]; !strings.HasPrefix(item, "Look at the 403s") || !strings.Contains(item, "\n- one user:") {
		t.Errorf("item 2 = %q, want the nested cases kept with it", item)
	}
	if item := r.Steps[0].Items[4]; item != "Post the number of users synced late in the incident thread." {
		t.Errorf("item 5 = %q", item)
	}
	if sum := r.Summary(2); sum != "1. Check both replicas are running and on the same version:\n2. Look at the 403s on the dashboard: one user id or all of them?" {
		t.Errorf("Summary(2) = %q", sum)
	}

	ds := c.Runbook("document-service")
	if ds.Entry.Replicas != 3 || ds.Entry.Channel != "#documents-run" || len(ds.Steps[0].Items) != 3 ||
		!strings.HasPrefix(ds.Steps[0].Intro, "Stores and renders customer documents") {
		t.Errorf("document-service = %#v", ds)
	}
	md := ds.Markdown()
	for _, w := range []string{"**Runbook: document-service**", "Owner: team-documents", "Replicas: 3", "Dashboards: https://grafana.example.com/d/docs/document-service", "3. Did a deploy go out"} {
		if !strings.Contains(md, w) {
			t.Errorf("Markdown() does not contain %q:\n%s", w, md)
		}
	}
}
