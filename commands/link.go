package commands

import (
	"context"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// Usages of /link and /merge.
const (
	linkUsage  = "/link [incident] <other incident>"
	mergeUsage = "/merge [incident] into <incident>"
)

// pair reads the two incidents of /link and /merge: "A B" or "A into B",
// or, in an incident's thread, the second alone ("B", "into B") with the
// thread's incident as the first.
func pair(req Request, args []string) (a, b int64, ok bool) {
	if n := len(args); n >= 2 && isInto(args[n-2]) {
		args = append(args[:n-2:n-2], args[n-1])
	}
	var nums []int64
	for _, f := range args {
		id, _, isNum := incidentArg([]string{f})
		if !isNum {
			return 0, 0, false
		}
		nums = append(nums, id)
	}
	switch {
	case len(nums) == 2:
		return nums[0], nums[1], true
	case len(nums) == 1 && req.Incident != 0:
		return req.Incident, nums[0], true
	}
	return 0, 0, false
}

func isInto(word string) bool {
	switch strings.ToLower(word) {
	case "into", "->", "→":
		return true
	}
	return false
}

func (r *Router) link(ctx context.Context, req Request, args []string) Response {
	a, b, ok := pair(req, args)
	if !ok {
		return usage(linkUsage)
	}
	incA, incB, err := r.Incidents.Link(ctx, a, b, req.User)
	if err != nil {
		return done(nil, err, "")
	}
	return done(incA, nil, "🔗 #%d and #%d are linked: both timelines and threads say so", incA.ID, incB.ID)
}

func (r *Router) merge(ctx context.Context, req Request, args []string) Response {
	dup, into, ok := pair(req, args)
	// A lone number in a thread must say its direction ("into 7"): a
	// merge is not undone.
	if !ok || len(args) == 1 {
		return usage(mergeUsage)
	}
	d, target, err := r.Incidents.Merge(ctx, dup, into, req.User)
	if err != nil {
		return done(nil, err, "")
	}
	return done(target, nil, "🧩 #%d merged into #%d: its %d %s and its timeline join #%d (%d alerts now); #%d is resolved as a duplicate, and its alerts file into #%d while that one is active",
		d.ID, target.ID, d.AlertCount, incidents.Plural(d.AlertCount, "alert", "alerts"), target.ID, target.AlertCount, d.ID, target.ID)
}
