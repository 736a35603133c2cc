package commands

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// Analysis is what the root-cause commands need from the incident service.
type Analysis interface {
	StartFiveWhys(ctx context.Context, id int64, actor, problem string) (*incidents.Chain, error)
	FiveWhysStep(ctx context.Context, id int64, actor, step string, n int) (*incidents.Chain, error)
	Chains(ctx context.Context, id int64) ([]*incidents.Chain, error)
	RequestPostmortem(ctx context.Context, id int64, actor, how string) (*incidents.Postmortem, error)
}

const fiveWhysUsage = "/five-whys [incident] [problem | back | done | more [n] | show]"

func (r *Router) fiveWhys(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.chainTarget(ctx, req, args)
	if resp != nil {
		return *resp
	}
	step := ""
	if len(rest) > 0 {
		step = strings.ToLower(rest[0])
	}
	switch step {
	case "show":
		return r.showChains(ctx, id)
	case "back", "done":
		if len(rest) > 1 {
			return usage(fiveWhysUsage)
		}
		c, err := r.Incidents.FiveWhysStep(ctx, id, req.User, step, 0)
		if err != nil {
			return done(nil, err, "")
		}
		return Response{Text: fmt.Sprintf("🔎 #%d five whys: %s (%d/%d answered)", id, step, len(c.Answers), c.Want), Incident: id}
	case "more":
		n := 1
		if len(rest) == 2 {
			v, err := strconv.Atoi(rest[1])
			if err != nil {
				return usage("/five-whys [incident] more [1-10]")
			}
			n = v
		} else if len(rest) > 2 {
			return usage("/five-whys [incident] more [1-10]")
		}
		c, err := r.Incidents.FiveWhysStep(ctx, id, req.User, step, n)
		if err != nil {
			return done(nil, err, "")
		}
		return Response{Text: fmt.Sprintf("🔎 #%d five whys: asking up to %d whys", id, c.Want), Incident: id}
	}
	c, err := r.Incidents.StartFiveWhys(ctx, id, req.User, strings.Join(rest, " "))
	if err != nil {
		return done(nil, err, "")
	}
	return Response{Text: fmt.Sprintf("🔎 #%d five whys #%d started: answer each why by replying in the incident's thread", id, c.Seq), Incident: id}
}

// chainCandidates bounds the incidents searched for a five whys in
// progress: a storm can put hundreds in a channel, each a query.
const chainCandidates = 100

// chainTarget picks the incident of a five-whys step given without a
// number ("/five-whys back"): among the channel's active incidents, the
// one whose five whys is in progress, the way another command acts on the
// channel's only active incident. Otherwise, and for a new chain, the
// usual rule applies.
func (r *Router) chainTarget(ctx context.Context, req Request, args []string) (int64, []string, *Response) {
	const usage = "/five-whys 42 [problem]"
	_, _, numbered := incidentArg(args)
	if numbered || req.Incident != 0 || len(args) == 0 || !slices.Contains([]string{"back", "done", "more", "show"}, strings.ToLower(args[0])) {
		return r.target(ctx, req, args, usage)
	}
	active, err := r.activeHere(ctx, req, chainCandidates)
	if err != nil {
		return 0, nil, &Response{Text: incidents.ErrorMessage(err), Ephemeral: true, Code: incidents.ErrorCode(err), Err: err}
	}
	var asking []int64
	for _, inc := range active[:min(len(active), chainCandidates)] {
		chains, err := r.Incidents.Chains(ctx, inc.ID)
		if err != nil {
			return 0, nil, &Response{Text: incidents.ErrorMessage(err), Ephemeral: true, Code: incidents.ErrorCode(err), Err: err}
		}
		if slices.ContainsFunc(chains, (*incidents.Chain).InProgress) {
			asking = append(asking, inc.ID)
		}
	}
	if len(asking) == 1 {
		return asking[0], args, nil
	}
	return r.target(ctx, req, args, usage)
}

func (r *Router) showChains(ctx context.Context, id int64) Response {
	chains, err := r.Incidents.Chains(ctx, id)
	if err != nil {
		return done(nil, err, "")
	}
	if len(chains) == 0 {
		return Response{Text: fmt.Sprintf("no five whys on #%d yet; /five-whys %d [problem] starts one", id, id), Ephemeral: true}
	}
	var parts []string
	for _, c := range chains {
		head := fmt.Sprintf("Five whys #%d (%s, by %s)", c.Seq, chainWord(c), c.StartedBy)
		parts = append(parts, head+"\n"+c.List())
	}
	return Response{Text: strings.Join(parts, "\n\n"), Ephemeral: true}
}

func chainWord(c *incidents.Chain) string {
	switch c.State {
	case incidents.ChainAsking:
		return fmt.Sprintf("in progress, %d/%d answered", len(c.Answers), c.Want)
	case incidents.ChainCountermeasure:
		return "waiting for its countermeasure"
	}
	return string(c.State)
}

func (r *Router) postmortem(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.target(ctx, req, args, "/postmortem 42")
	if resp != nil {
		return *resp
	}
	if len(rest) > 0 {
		return usage("/postmortem [incident]")
	}
	how := r.Drafting
	if how == "" {
		how = "from the template"
	}
	pm, err := r.Incidents.RequestPostmortem(ctx, id, req.User, how)
	if err != nil {
		return done(nil, err, "")
	}
	return Response{Text: fmt.Sprintf("📝 #%d drafting post-mortem v%d %s: it will appear in the thread", id, pm.Version, how), Incident: id}
}
