package slack

import (
	"context"
	"errors"
	"strings"

	"github.com/slack-go/slack"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/redact"
)

// Check is "runbot doctor" for Slack: the settings New refuses, the bot
// token, the default channel and the others runbot posts in (channels,
// named as in the configuration), and the connection mode, a line each
// on report.
func Check(ctx context.Context, cfg Config, channels []bot.WantedChannel, report bot.Report) {
	// The platform's own checks first: what it refuses, runbot refuses.
	p, err := New(cfg)
	if err != nil {
		report.Fail("slack", "%s", bot.OneLine(err))
		return
	}
	apiURL := "https://slack.com/api/"
	if cfg.APIURL != "" {
		apiURL = strings.TrimRight(cfg.APIURL, "/") + "/"
	}
	cctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	me, err := p.api.AuthTestContext(cctx)
	cancel()
	if err != nil {
		if code := errorCode(err); code != "" {
			report.Fail("slack token", "Slack refused the bot token (%s): copy the Bot User OAuth Token (xoxb-...) into slack_bot_token / RUNBOT_SLACK_BOT_TOKEN", code)
		} else {
			report.Fail("slack token", "auth.test at %s failed (%s): check slack_api_url / RUNBOT_SLACK_API_URL, the network and any proxy (HTTPS_PROXY)",
				redact.URL(apiURL), bot.CheckCause(err))
		}
		return
	}
	report.OK("slack token", "runbot is @%s (%s) in %s", me.User, me.UserID, me.Team)
	checkChannels(ctx, p.api, cfg.DefaultChannel, channels, report)
	checkMode(ctx, p.api, cfg, report)
}

func checkChannels(ctx context.Context, api *slack.Client, defaultChannel string, wanted []bot.WantedChannel, report bot.Report) {
	ctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	defer cancel()
	known := map[string]slack.Channel{}
	cursor := ""
	for {
		chans, next, err := api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Cursor: cursor, Limit: 1000, ExcludeArchived: true, Types: []string{"public_channel", "private_channel"}})
		if err != nil {
			var se slack.SlackErrorResponse
			if errors.As(err, &se) && se.Err == "missing_scope" {
				report.Fail("slack channel", "Slack refused conversations.list (missing_scope, needs %s): add the channels:read and groups:read scopes "+
					"under OAuth & Permissions, then reinstall the app", se.Needed)
				return
			}
			report.Fail("slack channel", "listing channels failed (%s): try again; if it persists, check the app's scopes (channels:read, groups:read)",
				bot.CheckCause(err))
			return
		}
		for _, ch := range chans {
			known[ch.Name], known[ch.ID] = ch, ch
		}
		if next == "" {
			break
		}
		cursor = next
	}
	trim := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "#") }
	def := trim(defaultChannel)
	switch ch, ok := known[def]; {
	case !ok && isChannelID(def):
		report.Fail("slack channel", "channel %s not found among the channels runbot can see: set slack_channel / RUNBOT_SLACK_CHANNEL to an existing channel, "+
			"or /invite @runbot in it if it is private", def)
	case !ok:
		report.Fail("slack channel", "channel #%s not found: create it or set slack_channel / RUNBOT_SLACK_CHANNEL "+
			"(a private channel shows only once runbot is in it: /invite @runbot there)", def)
	case !ch.IsMember:
		report.Fail("slack channel", "runbot is not a member of #%s: /invite @runbot in #%s", ch.Name, ch.Name)
	default:
		report.OK("slack channel", "#%s (%s): runbot is a member", ch.Name, ch.ID)
	}
	others := bot.OtherChannels(def, wanted, trim)
	bad := 0
	for _, w := range others {
		switch ch, ok := known[w.Name]; {
		case !ok:
			bad++
			report.Fail("slack channel", "channel #%s (%s) not found: create it and /invite @runbot, or fix %s", w.Name, w.From, w.From)
		case !ch.IsMember:
			bad++
			report.Fail("slack channel", "runbot is not a member of #%s (%s): /invite @runbot in #%s", w.Name, w.From, w.Name)
		}
	}
	if len(others) > 0 && bad == 0 {
		report.OK("slack channels", "runbot is in %s", bot.ChannelList("#", others))
	}
}

func checkMode(ctx context.Context, api *slack.Client, cfg Config, report bot.Report) {
	if cfg.AppToken == "" {
		report.OK("slack mode", "HTTP: Slack's requests are verified with slack_signing_secret")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, bot.CheckTimeout)
	defer cancel()
	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		if code := errorCode(err); code != "" {
			report.Fail("slack app token", "Slack refused the app token (%s): generate an App-Level Token with connections:write (Basic Information → App-Level Tokens), "+
				"put it in slack_app_token / RUNBOT_SLACK_APP_TOKEN, and turn Socket Mode on", code)
		} else {
			report.Fail("slack app token", "apps.connections.open failed (%s): check the network and any proxy (HTTPS_PROXY)", bot.CheckCause(err))
		}
		return
	}
	report.OK("slack app token", "Socket Mode: Slack opens connections for the app token")
}

// isChannelID tells the ids Slack gives channels, which slack_channel may
// hold instead of a name.
func isChannelID(s string) bool {
	if len(s) < 5 || (s[0] != 'C' && s[0] != 'G') {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) < 0
}

// errorCode is the error code of a Web API refusal ("invalid_auth"), or
// "" when Slack did not answer.
func errorCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}
