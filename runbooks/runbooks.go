// Package runbooks is runbot's service catalog and runbook library: a
// directory holds one markdown file per service, <service>.md. The file's
// YAML front matter is the service's catalog entry (owner, chat channel,
// dashboards, escalation) and its markdown body is the runbook's steps.
//
// A service without a file still gets help: the two built-in checklists of
// the seed practice, drill-down and bottom-up.
package runbooks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Entry is one service's catalog entry and runbook, as read from its file.
type Entry struct {
	Service    string
	Owner      string
	Channel    string // chat channel for this service's incidents
	Replicas   int    // 0 when unknown
	Dashboards []string
	Escalation string // free text: who to escalate to
	URL        string // external runbook page
	Aliases    []string
	Body       string // markdown steps, front matter removed, trimmed
	File       string // path it came from; "" for built-ins
}

// Catalog is the set of entries loaded from a runbooks directory. It is
// never modified after Load, so any number of goroutines may read it; a
// nil *Catalog reads as an empty one.
type Catalog struct {
	byName   map[string]*entry // lowercased service names and aliases
	services []string          // sorted canonical service names
}

// entry keeps the checklist parsed once at load so lookups stay cheap.
type entry struct {
	Entry
	steps Checklist
}

// Empty returns a catalog with no entries: every service gets the built-in
// checklists.
func Empty() *Catalog {
	return &Catalog{byName: map[string]*entry{}}
}

// Load reads every <service>.md file at the top of dir. An empty dir means
// no runbooks are configured and gives an empty catalog; a configured dir
// that does not exist is an error, because a typo in the setting would
// otherwise silently hide every runbook.
//
// Load reports all broken files at once (joined errors), so one run shows
// everything to fix.
func Load(dir string) (*Catalog, error) {
	if dir == "" {
		return Empty(), nil
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading runbooks dir %s: %w", dir, err)
	}
	c := Empty()
	var errs []error
	for _, de := range des { // os.ReadDir sorts by name: the first file to claim a name keeps it
		name := de.Name()
		if !isRunbookFile(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			continue // a directory named like a runbook, e.g. assets.md/
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading runbook %s: %w", path, err))
			continue
		}
		e, err := parseFile(path, strings.TrimSuffix(name, ".md"), b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.add(e); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(c.services, func(a, b string) int {
		if d := strings.Compare(strings.ToLower(a), strings.ToLower(b)); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return c, nil
}

// isRunbookFile skips hidden files (editor swap and backup files) and a
// README.md, which documents the directory rather than a service.
func isRunbookFile(name string) bool {
	return strings.HasSuffix(name, ".md") &&
		!strings.HasPrefix(name, ".") &&
		!strings.EqualFold(name, "README.md")
}

// add registers e under its service name and aliases. A name already
// claimed by another file is an error naming both files: which one runbot
// would pick is exactly what the team needs to decide.
func (c *Catalog) add(e *entry) error {
	names := append([]string{e.Service}, e.Aliases...)
	var errs []error
	var claimed []string
	for i, n := range names {
		key := normalize(n)
		prev, ok := c.byName[key]
		if ok && prev == e {
			continue // an alias repeating the file's own name is harmless
		}
		if ok {
			what := "service"
			if i > 0 {
				what = "alias"
			}
			errs = append(errs, fmt.Errorf("%s: %s %q is also claimed by %s", e.File, what, n, prev.File))
			continue
		}
		c.byName[key] = e
		claimed = append(claimed, key)
	}
	if len(errs) > 0 {
		// Leave no half-registered entry behind to cause follow-on errors.
		for _, key := range claimed {
			delete(c.byName, key)
		}
		return errors.Join(errs...)
	}
	c.services = append(c.services, e.Service)
	return nil
}

// normalize is the lookup key: alerts spell service names in whatever case
// their source uses.
func normalize(service string) string {
	return strings.ToLower(strings.TrimSpace(service))
}

// Lookup finds the entry for a service name or alias, ignoring case.
func (c *Catalog) Lookup(service string) (Entry, bool) {
	e, ok := c.lookup(service)
	if !ok {
		return Entry{}, false
	}
	return e.clone(), true
}

func (c *Catalog) lookup(service string) (*entry, bool) {
	if c == nil {
		return nil, false
	}
	e, ok := c.byName[normalize(service)]
	return e, ok
}

// clone copies the slices so a caller cannot change the shared catalog.
func (e *entry) clone() Entry {
	out := e.Entry
	out.Dashboards = slices.Clone(e.Dashboards)
	out.Aliases = slices.Clone(e.Aliases)
	return out
}

// Services returns the sorted names of the services that have an entry
// (aliases not included).
func (c *Catalog) Services() []string {
	if c == nil {
		return []string{}
	}
	return slices.Clone(c.services)
}

// Runbook is what runbot offers the RUN person for one service.
type Runbook struct {
	Service  string
	Entry    Entry // zero when none
	HasEntry bool
	// Steps holds one checklist named after the service, made from its
	// file's body; or, when the service has no file or its file has no
	// body, the built-in DrillDown and BottomUp checklists.
	Steps []Checklist
}

// Runbook returns the service's runbook, or the built-in checklists when it
// has none. An alias resolves to the entry's own service name.
func (c *Catalog) Runbook(service string) Runbook {
	e, ok := c.lookup(service)
	if !ok {
		return Runbook{Service: strings.TrimSpace(service), Steps: builtins()}
	}
	r := Runbook{Service: e.Service, Entry: e.clone(), HasEntry: true}
	if e.Body == "" {
		// A catalog entry with no steps (only owner, channel...) is not a
		// runbook; the generic checklists are still better than nothing.
		r.Steps = builtins()
	} else {
		r.Steps = []Checklist{e.steps.clone()}
	}
	return r
}

func builtins() []Checklist { return []Checklist{DrillDown(), BottomUp()} }

// Channel is the chat channel of a service's incidents, "" when its entry
// names none (the platform's default channel).
func (c *Catalog) Channel(service string) string {
	e, _ := c.lookup(service)
	if e == nil {
		return ""
	}
	return e.Channel
}

// Replicas is how many instances a service is expected to run, 0 when
// unknown.
func (c *Catalog) Replicas(service string) int {
	e, _ := c.lookup(service)
	if e == nil {
		return 0
	}
	return e.Replicas
}
