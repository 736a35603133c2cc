package bottest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot"
)

// Report is a bot.Report that keeps a platform check's lines, as
// "ok check: text", "warn check: text" or "FAIL check: text".
type Report struct{ Lines []string }

var _ bot.Report = (*Report)(nil)

func (r *Report) OK(check, f string, a ...any)   { r.add("ok", check, f, a) }
func (r *Report) Warn(check, f string, a ...any) { r.add("warn", check, f, a) }
func (r *Report) Fail(check, f string, a ...any) { r.add("FAIL", check, f, a) }

func (r *Report) add(status, check, f string, a []any) {
	r.Lines = append(r.Lines, status+" "+check+": "+fmt.Sprintf(f, a...))
}

// Want fails the test unless a line starts with prefix and holds every
// part.
func (r *Report) Want(t testing.TB, prefix string, parts ...string) {
	t.Helper()
	for _, l := range r.Lines {
		if strings.HasPrefix(l, prefix) && !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			return
		}
	}
	t.Errorf("no line %q... with %q:\n%s", prefix, parts, r)
}

// Count is how many lines have this status: "runbot doctor" exits 1
// when a line is FAIL.
func (r *Report) Count(status string) int {
	return len(slices.DeleteFunc(slices.Clone(r.Lines), func(l string) bool { return !strings.HasPrefix(l, status+" ") }))
}

func (r *Report) String() string { return strings.Join(r.Lines, "\n") }
