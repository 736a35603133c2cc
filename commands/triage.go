package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Asks lists the open point-of-contact asks.
type Asks interface {
	Open(ctx context.Context) ([]*incidents.Ask, error)
}

func (r *Router) triage(ctx context.Context, req Request, args []string) Response {
	if r.Asks == nil {
		return Response{Text: "point-of-contact triage is off: list the team's channels under triage.channels and its members under members", Ephemeral: true}
	}
	if len(args) > 0 {
		return usage("/triage")
	}
	open, err := r.Asks.Open(ctx)
	if err != nil {
		return done(nil, err, "")
	}
	if len(open) == 0 {
		return Response{Text: "🟢 no open ask: every question from other teams has an answer", Ephemeral: true}
	}
	now := r.now()
	lines := []string{fmt.Sprintf("%d open %s, oldest first:", len(open), plural(len(open), "ask", "asks"))}
	for _, a := range open {
		state := "waiting"
		if !a.RemindedAt.IsZero() {
			state = "RUN person called"
		}
		lines = append(lines, fmt.Sprintf("#%d %s ago in %s, from %s (%s): %s", a.ID, incidents.FormatDuration(now.Sub(a.AskedAt).Truncate(time.Minute)),
			a.Channel, a.From, state, clipText(a.Text, 120)))
	}
	return Response{Text: strings.Join(lines, "\n"), Ephemeral: true}
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
