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
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// Catalog is the set of entries loaded from a runbooks directory. Reload
// reads the directory again and swaps the whole set in one step, so any
// number of goroutines may read it meanwhile and each lookup sees one
// version of it; a nil *Catalog reads as an empty one.
type Catalog struct {
	dir    string
	cur    atomic.Pointer[snapshot]
	reload sync.Mutex // one reload at a time: each starts from the one before
}

// snapshot is one version of the catalog; never modified once stored.
type snapshot struct {
	byName   map[string]*entry // lowercased service names and aliases
	services []string          // sorted canonical service names
	files    map[string]*file  // by path: the version of each file in use
	stamp    string            // the directory as last read (see stampDir)
	problem  string            // what the last reload did not apply, "" when all was
}

// file is a runbook file's content and the entry it gave.
type file struct {
	raw   string
	entry *entry
}

// entry keeps the checklist parsed once at load so lookups stay cheap.
type entry struct {
	Entry
	steps Checklist
}

func newSnapshot() *snapshot {
	return &snapshot{byName: map[string]*entry{}, files: map[string]*file{}}
}

// Empty returns a catalog with no entries: every service gets the built-in
// checklists.
func Empty() *Catalog {
	c := &Catalog{}
	c.cur.Store(newSnapshot())
	return c
}

// snap is the catalog's current version.
func (c *Catalog) snap() *snapshot {
	if c == nil {
		return newSnapshot()
	}
	if s := c.cur.Load(); s != nil {
		return s
	}
	return newSnapshot() // a zero Catalog
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
	s, err := build(dir, nil)
	if err != nil {
		return nil, err
	}
	c := &Catalog{dir: dir}
	c.cur.Store(s)
	return c, nil
}

// Reload reads the catalog's directory again and applies what changed in
// one step: edited files, new ones, removed ones. A file that does not
// parse, or that claims a name another file holds, is not applied: its
// previous version stays (a new file stays out) until it is fixed, and
// the error names it, as Problem does until then. When the directory
// cannot be read at all, the catalog stays as it was.
func (c *Catalog) Reload() error {
	if c == nil || c.dir == "" {
		return nil
	}
	c.reload.Lock()
	defer c.reload.Unlock()
	prev := c.snap()
	next, err := build(c.dir, prev)
	if next == nil {
		kept := *prev
		kept.stamp, kept.problem = stampDir(c.dir), problemText(err)
		c.cur.Store(&kept)
		return err
	}
	next.problem = problemText(err)
	c.cur.Store(next)
	return err
}

// Problem says what the last reload did not apply and why, "" when it
// applied everything.
func (c *Catalog) Problem() string { return c.snap().problem }

func problemText(err error) string {
	if err == nil {
		return ""
	}
	return "runbooks not applied, their previous version stays (and runbot will not start until they are fixed): " +
		strings.ReplaceAll(err.Error(), "\n", "; ")
}

// build reads dir into a new snapshot. Given the previous one, it keeps
// the previous version of each file that no longer parses or whose new
// version claims a name that is taken, and returns the new snapshot with
// the joined errors; without one, any error fails the whole load. A nil
// snapshot means the directory could not be read.
func build(dir string, prev *snapshot) (*snapshot, error) {
	stamp := stampDir(dir) // before reading: an edit meanwhile shows as a change next time
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading runbooks dir %s: %w", dir, err)
	}
	if prev == nil {
		prev = newSnapshot()
	}
	next := newSnapshot()
	next.stamp = stamp
	var errs []error
	// Files as they were come first: they held their names together
	// already, and a new claim must not take a name from them.
	type candidate struct {
		path string
		f    *file
		prev *file
	}
	var stable, changed []candidate
	for _, de := range des { // os.ReadDir sorts by name: the first file to claim a name keeps it
		name := de.Name()
		if !isRunbookFile(name) {
			continue
		}
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			continue // a directory named like a runbook, e.g. assets.md/
		}
		was := prev.files[path]
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed since the directory was listed
		case err != nil:
			errs = append(errs, fmt.Errorf("reading runbook %s: %w", path, err))
			if was != nil {
				stable = append(stable, candidate{path: path, f: was})
			}
			continue
		case was != nil && was.raw == string(b):
			stable = append(stable, candidate{path: path, f: was})
			continue
		}
		e, err := parseFile(path, strings.TrimSuffix(name, ".md"), b)
		if err != nil {
			errs = append(errs, err)
			if was != nil {
				stable = append(stable, candidate{path: path, f: was})
			}
			continue
		}
		changed = append(changed, candidate{path: path, f: &file{raw: string(b), entry: e}, prev: was})
	}
	for _, c := range slices.Concat(stable, changed) {
		err := next.add(c.f.entry)
		if err == nil {
			next.files[c.path] = c.f
			continue
		}
		errs = append(errs, err)
		if c.prev != nil && next.add(c.prev.entry) == nil {
			next.files[c.path] = c.prev
		}
	}
	slices.SortFunc(next.services, func(a, b string) int {
		if d := strings.Compare(strings.ToLower(a), strings.ToLower(b)); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return next, errors.Join(errs...)
}

// stampDir describes the runbook files of dir by name, size and
// modification time (following links, as a mounted ConfigMap's are): a
// change of it means a file changed.
func stampDir(dir string) string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	var b strings.Builder
	for _, de := range des {
		if !isRunbookFile(de.Name()) {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, de.Name()))
		if err != nil {
			fmt.Fprintf(&b, "%s ?\n", de.Name())
			continue
		}
		fmt.Fprintf(&b, "%s %d %d\n", de.Name(), fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
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
func (s *snapshot) add(e *entry) error {
	names := append([]string{e.Service}, e.Aliases...)
	var errs []error
	var claimed []string
	for i, n := range names {
		key := normalize(n)
		prev, ok := s.byName[key]
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
		s.byName[key] = e
		claimed = append(claimed, key)
	}
	if len(errs) > 0 {
		// Leave no half-registered entry behind to cause follow-on errors.
		for _, key := range claimed {
			delete(s.byName, key)
		}
		return errors.Join(errs...)
	}
	s.services = append(s.services, e.Service)
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
	e, ok := c.snap().byName[normalize(service)]
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
	return append([]string{}, c.snap().services...)
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
