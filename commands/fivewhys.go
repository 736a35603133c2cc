package commands

import (
	"context"
	"fmt"
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
	id, rest, resp := r.target(ctx, req, args, "/five-whys 42 [problem]")
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
