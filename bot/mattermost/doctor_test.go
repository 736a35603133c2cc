package mattermost_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/mattermost"
)

func checkConfig(url, token, channel string) mattermost.Config {
	// Tokens of commands registered by hand make the commands' line ok
	// whether or not the bot may manage them (other tests change that).
	return mattermost.Config{URL: url, Token: token, Team: "ops", DefaultChannel: channel, ActionSecret: []byte("doctor"),
		CommandTokens: []string{"by-hand"}}
}

func TestCheckHealthy(t *testing.T) {
	s := realServer(t)
	var r bottest.Report
	mattermost.Check(context.Background(), checkConfig(s.url, s.botToken, "~incidents"),
		[]bot.WantedChannel{{Name: "team", From: "triage.channels"}, {Name: "#incidents", From: "morning_check.channel"}}, &r)
	if n := r.Count("ok"); n != len(r.Lines) {
		t.Errorf("a healthy Mattermost got lines that are not ok:\n%s", &r)
	}
	r.Want(t, "ok mattermost token: runbot is @")
	r.Want(t, "ok mattermost team: ops (")
	r.Want(t, "ok mattermost channel: ~incidents: runbot is a member")
	r.Want(t, "ok mattermost channels: runbot is in ~team")
	r.Want(t, "ok mattermost commands: ")
}

func TestCheckRefusedConfiguration(t *testing.T) {
	var r bottest.Report
	mattermost.Check(context.Background(), mattermost.Config{URL: "http://mattermost.invalid", Token: "token", DefaultChannel: "incidents",
		ActionSecret: []byte("doctor")}, nil, &r)
	if len(r.Lines) != 1 {
		t.Fatalf("a configuration New refuses should be one line, got:\n%s", &r)
	}
	r.Want(t, "FAIL mattermost: ", "RUNBOT_MATTERMOST_TEAM")
}

func TestCheckUnreachable(t *testing.T) {
	// .invalid never resolves: the token check fails at once.
	var r bottest.Report
	mattermost.Check(context.Background(), checkConfig("http://mattermost.invalid", "token", "incidents"), nil, &r)
	r.Want(t, "FAIL mattermost token: cannot reach Mattermost at http://mattermost.invalid", "mattermost_url / RUNBOT_MATTERMOST_URL")
	if len(r.Lines) != 1 {
		t.Errorf("checks went on without a server:\n%s", &r)
	}
}

func TestCheckBadTokenNamesTheSetting(t *testing.T) {
	s := realServer(t)
	var r bottest.Report
	mattermost.Check(context.Background(), checkConfig(s.url, "not-a-token", "incidents"), nil, &r)
	r.Want(t, "FAIL mattermost token: Mattermost refused the token (401", "into mattermost_token / RUNBOT_MATTERMOST_TOKEN")
}

func TestCheckMissingChannelSaysWhatToDo(t *testing.T) {
	s := realServer(t)
	missing := fmt.Sprintf("no-such-channel-%d", time.Now().UnixNano()%1e9)
	var r bottest.Report
	mattermost.Check(context.Background(), checkConfig(s.url, s.botToken, missing),
		[]bot.WantedChannel{{Name: "~" + missing + "-too", From: "the channel of checkout.md"}}, &r)
	r.Want(t, "FAIL mattermost channel: channel ~"+missing+" not found in team ops: create it", "set mattermost_channel / RUNBOT_MATTERMOST_CHANNEL")
	r.Want(t, "FAIL mattermost channel: channel ~"+missing+"-too not found in team ops", "or fix the channel of checkout.md")
}

func TestCheckChannelWithoutRunbotWarns(t *testing.T) {
	s := realServer(t)
	ctx := context.Background()
	name := fmt.Sprintf("no-runbot-%d", time.Now().UnixNano()%1e9)
	if _, _, err := s.admin.CreateChannel(ctx, &model.Channel{TeamId: s.teamID, Name: name, DisplayName: name, Type: model.ChannelTypeOpen}); err != nil {
		t.Fatal(err)
	}
	var r bottest.Report
	mattermost.Check(ctx, checkConfig(s.url, s.botToken, name), nil, &r)
	r.Want(t, "warn mattermost channel: runbot is not in ~"+name, "/invite @runbot in ~"+name)
	if n := r.Count("FAIL"); n > 0 {
		t.Errorf("a public channel runbot is not in yet is a warning, not a failure:\n%s", &r)
	}
}
