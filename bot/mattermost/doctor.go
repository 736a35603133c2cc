package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/redact"
)

// Check is "runbot doctor" for Mattermost: the settings New refuses, the
// bot token, the team, the default channel and the others runbot posts
// in (channels, named as in the configuration), and the slash commands,
// a line each on report.
func Check(ctx context.Context, cfg Config, channels []bot.WantedChannel, report bot.Report) {
	// The platform's own checks first: what it refuses, runbot refuses.
	p, err := New(cfg)
	if err != nil {
		report.Fail("mattermost", "%s", bot.OneLine(err))
		return
	}
	c := checker{api: p.api, report: report}
	cctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	me, resp, err := c.api.GetMe(cctx, "")
	cancel()
	if err != nil {
		switch st := status(resp, err); {
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			report.Fail("mattermost token", "Mattermost refused the token (%d %s): copy the bot account's access token (Integrations → Bot Accounts) "+
				"into mattermost_token / RUNBOT_MATTERMOST_TOKEN", st, message(err))
		case st == 0:
			report.Fail("mattermost token", "cannot reach Mattermost at %s (%s): check mattermost_url / RUNBOT_MATTERMOST_URL and the network",
				redact.URL(cfg.URL), bot.CheckCause(err))
		default:
			report.Fail("mattermost token", "%s/api/v4/users/me answered %d (%s): is mattermost_url / RUNBOT_MATTERMOST_URL Mattermost's address?",
				redact.URL(cfg.URL), st, message(err))
		}
		return
	}
	report.OK("mattermost token", "runbot is @%s (%s)", me.Username, me.Id)
	c.me = me

	if c.team = c.checkTeam(ctx, cfg.Team); c.team == nil {
		return
	}
	trim := func(s string) string { return strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "~"), "#") }
	def := trim(cfg.DefaultChannel)
	switch problem := c.channelProblem(ctx, def); {
	case problem == "":
		report.OK("mattermost channel", "~%s: runbot is a member", def)
	case strings.HasPrefix(problem, "warn: "):
		report.Warn("mattermost channel", "%s", strings.TrimPrefix(problem, "warn: "))
	default:
		report.Fail("mattermost channel", "%s, or set mattermost_channel / RUNBOT_MATTERMOST_CHANNEL", problem)
	}
	others := bot.OtherChannels(def, channels, trim)
	bad := 0
	for _, w := range others {
		switch problem := c.channelProblem(ctx, w.Name); {
		case problem == "":
		case strings.HasPrefix(problem, "warn: "):
			bad++
			report.Warn("mattermost channel", "%s (%s)", strings.TrimPrefix(problem, "warn: "), w.From)
		default:
			bad++
			report.Fail("mattermost channel", "%s, or fix %s", problem, w.From)
		}
	}
	if len(others) > 0 && bad == 0 {
		report.OK("mattermost channels", "runbot is in %s", bot.ChannelList("~", others))
	}
	c.checkCommands(ctx, p.Triggers(), len(cfg.CommandTokens))
}

// checker is what the checks past the token share: the client, who runbot
// is, and its team once found.
type checker struct {
	api    *model.Client4
	report bot.Report
	me     *model.User
	team   *model.Team
}

// checkTeam finds the team and checks that runbot is in it; nil when not.
func (c *checker) checkTeam(ctx context.Context, name string) *model.Team {
	ctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	defer cancel()
	team, resp, err := c.api.GetTeamByName(ctx, name, "")
	if err != nil {
		if st := status(resp, err); st == http.StatusNotFound || st == http.StatusForbidden {
			c.report.Fail("mattermost team", "team %q not found, or runbot is not in it: set mattermost_team / RUNBOT_MATTERMOST_TEAM to the team's name "+
				"as in its URL, and add the bot to the team", name)
		} else {
			c.report.Fail("mattermost team", "reading team %q failed (%s)", name, bot.CheckCause(err))
		}
		return nil
	}
	m, resp, err := c.api.GetTeamMember(ctx, team.Id, c.me.Id, "")
	switch st := status(resp, err); {
	case err != nil && st != http.StatusNotFound && st != http.StatusForbidden:
		c.report.Fail("mattermost team", "reading runbot's membership of team %s failed (%s)", name, bot.CheckCause(err))
		return nil
	case err != nil || m.DeleteAt != 0:
		c.report.Fail("mattermost team", "runbot is not in team %s: add the bot to the team (the team's menu → Add members)", name)
		return nil
	}
	c.report.OK("mattermost team", "%s (%s): runbot is a member", team.Name, team.Id)
	return team
}

// channelProblem says what is wrong with a channel for runbot: "" for
// nothing, "warn: ..." for what runbot gets over by itself.
func (c *checker) channelProblem(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	defer cancel()
	ch, resp, err := c.api.GetChannelByName(ctx, name, c.team.Id, "")
	if err != nil {
		if st := status(resp, err); st == http.StatusNotFound || st == http.StatusForbidden {
			return fmt.Sprintf("channel ~%s not found in team %s: create it (a private one needs /invite @runbot in it)", name, c.team.Name)
		}
		return fmt.Sprintf("reading channel ~%s failed (%s): try again", name, bot.CheckCause(err))
	}
	if _, resp, err := c.api.GetChannelMember(ctx, ch.Id, c.me.Id, ""); err != nil {
		if st := status(resp, err); st != http.StatusNotFound && st != http.StatusForbidden {
			return fmt.Sprintf("reading runbot's membership of ~%s failed (%s): try again", name, bot.CheckCause(err))
		}
		if ch.Type == model.ChannelTypeOpen {
			return fmt.Sprintf("warn: runbot is not in ~%s: it joins at its first post there, but sees nothing posted before: /invite @runbot in ~%s", name, name)
		}
		return fmt.Sprintf("runbot is not in the private channel ~%s: /invite @runbot in ~%s", name, name)
	}
	return ""
}

// checkCommands checks that the slash commands can exist: runbot
// registers them itself when it may, else they are registered by hand and
// their tokens configured.
func (c *checker) checkCommands(ctx context.Context, triggers []Command, tokens int) {
	ctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	defer cancel()
	list, resp, err := c.api.ListCommands(ctx, c.team.Id, true)
	switch st := status(resp, err); {
	case err != nil && st == http.StatusForbidden && tokens > 0:
		c.report.OK("mattermost commands", "registered by hand: %d tokens in mattermost_command_tokens", tokens)
	case err != nil && st == http.StatusForbidden:
		c.report.Warn("mattermost commands", "runbot may not manage slash commands in team %s and mattermost_command_tokens is empty, so /runbot answers nothing: "+
			"make the bot a team admin (System Console → Teams → %s), or register the commands by hand and set mattermost_command_tokens", c.team.Name, c.team.Name)
	case err != nil:
		c.report.Warn("mattermost commands", "listing slash commands failed (%s): runbot tries again at start", bot.CheckCause(err))
	default:
		there := 0
		for _, cmd := range list {
			if cmd.DeleteAt == 0 && cmd.CreatorId == c.me.Id && slices.ContainsFunc(triggers, func(t Command) bool { return t.Trigger == cmd.Trigger }) {
				there++
			}
		}
		c.report.OK("mattermost commands", "runbot may manage slash commands: it creates or updates its %d at start (%d already there)", len(triggers), there)
	}
}

// status is the HTTP status of a failed call, 0 when Mattermost did not
// answer.
func status(resp *model.Response, err error) int {
	if resp != nil && resp.StatusCode != 0 {
		return resp.StatusCode
	}
	var ae *model.AppError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// message is Mattermost's words for a refusal.
func message(err error) string {
	var ae *model.AppError
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return bot.CheckCause(err)
}
