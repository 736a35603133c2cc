package mattermost

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/redact"
)

// builtins are the triggers of Mattermost's own slash commands (server
// 11): a runbot command of the same name is reached as /runbot <command>.
var builtins = map[string]bool{
	"away": true, "code": true, "collapse": true, "custom_status": true, "dnd": true, "echo": true, "expand": true,
	"exportlink": true, "groupmsg": true, "header": true, "help": true, "invite": true, "invite_people": true,
	"join": true, "kick": true, "leave": true, "logout": true, "marketplace": true, "me": true, "msg": true,
	"mute": true, "offline": true, "online": true, "open": true, "purpose": true, "remove": true, "rename": true,
	"search": true, "settings": true, "share-channel": true, "secure-connection": true, "shortcuts": true,
	"shrug": true, "status": true, "test": true,
}

// Triggers lists the slash commands runbot registers: /runbot itself and
// each command whose name Mattermost has not taken.
func (p *Platform) Triggers() []Command {
	out := []Command{{Trigger: "runbot", Hint: "<command> [arguments]", Description: "any runbot command, e.g. /runbot ack 42; /runbot help lists them"}}
	for _, c := range p.cfg.Commands {
		if !builtins[c.Trigger] && c.Trigger != "runbot" {
			out = append(out, c)
		}
	}
	return out
}

// RegisterCommands makes sure runbot's slash commands exist in the team
// and point at runbot, and learns their tokens. A bot account without the
// right to manage slash commands is told how to do it by hand; that is
// not an error to retry. Listen calls it.
func (p *Platform) RegisterCommands(ctx context.Context) error {
	if p.cfg.CallbackURL == "" {
		p.log.Warn("runbot has no public URL: Mattermost cannot reach its slash commands and buttons",
			"operation", "registering mattermost commands", "hint", "set public_url (RUNBOT_PUBLIC_URL) to the address Mattermost reaches runbot at")
		return nil
	}
	me, team, err := p.whoami(ctx)
	if err != nil {
		return err
	}
	existing, resp, err := p.api.ListCommands(ctx, team, true)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusForbidden {
			p.log.Info("the bot account may not manage slash commands: register them by hand (README, Mattermost)",
				"operation", "registering mattermost commands", "url", redact.URL(p.cfg.CallbackURL+commandsPath),
				"hint", "or give the bot the manage_slash_commands permission and restart runbot")
			return nil
		}
		return fmt.Errorf("listing mattermost slash commands: %w", mapErr(err, resp))
	}
	url := p.cfg.CallbackURL + commandsPath
	byTrigger := map[string]*model.Command{}
	for _, c := range existing {
		if c.DeleteAt == 0 {
			byTrigger[c.Trigger] = c
		}
	}
	created, updated := 0, 0
	for _, want := range p.Triggers() {
		c, ok := byTrigger[want.Trigger]
		cmd := &model.Command{TeamId: team, Trigger: want.Trigger, Method: model.CommandMethodPost, URL: url,
			AutoComplete: true, AutoCompleteHint: want.Hint, AutoCompleteDesc: want.Description,
			DisplayName: "runbot /" + want.Trigger, Description: want.Description}
		switch {
		case !ok:
			c, resp, err = p.api.CreateCommand(ctx, cmd)
			if err != nil {
				p.log.Warn("registering a slash command failed", "operation", "registering mattermost commands", "trigger", want.Trigger, "error", err)
				continue
			}
			created++
		case c.CreatorId == me.Id && (c.URL != url || c.AutoCompleteHint != want.Hint || c.AutoCompleteDesc != want.Description):
			cmd.Id, cmd.Token, cmd.CreatorId = c.Id, c.Token, c.CreatorId
			if c, resp, err = p.api.UpdateCommand(ctx, cmd); err != nil {
				p.log.Warn("updating a slash command failed", "operation", "registering mattermost commands", "trigger", want.Trigger, "error", mapErr(err, resp))
				continue
			}
			updated++
		case c.CreatorId != me.Id && c.URL != url:
			p.log.Warn("another integration owns this slash command: use /runbot "+want.Trigger+" instead",
				"operation", "registering mattermost commands", "trigger", want.Trigger, "url", redact.URL(c.URL))
			continue
		}
		p.mu.Lock()
		p.tokens[c.Token] = true
		p.mu.Unlock()
	}
	p.log.Info("slash commands registered", "operation", "registering mattermost commands",
		"created", created, "updated", updated, "commands", len(p.Triggers()), "url", redact.URL(url))
	return nil
}

// relearnEvery bounds how often a command with an unknown token makes
// runbot read the commands' tokens again: anyone may send one.
const relearnEvery = 10 * time.Second

// relearnTokens reads the tokens of the bot account's slash commands
// from Mattermost, at most once per relearnEvery. With several replicas
// only the listener registers the commands (and so learns their tokens);
// a command can still reach another replica, behind a load balancer at
// one public URL, or while the commands point at a listener that just
// moved. It reports whether it read them.
func (p *Platform) relearnTokens(ctx context.Context) bool {
	p.mu.Lock()
	if now := p.cfg.Now(); now.Sub(p.tokensRead) >= relearnEvery {
		p.tokensRead = now
	} else {
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()
	me, team, err := p.whoami(ctx)
	if err != nil {
		p.log.Warn("reading the slash commands' tokens failed", "operation", "verifying mattermost requests", "error", err)
		return false
	}
	cmds, resp, err := p.api.ListCommands(ctx, team, true)
	if err != nil {
		// Without the right to manage slash commands runbot knows only
		// the tokens it was given (RUNBOT_MATTERMOST_COMMAND_TOKENS).
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			p.log.Warn("reading the slash commands' tokens failed", "operation", "verifying mattermost requests", "error", mapErr(err, resp))
		}
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cmds {
		// The bot account's commands are runbot's, whichever replica
		// registered them and wherever they point now.
		if c.CreatorId == me.Id && c.DeleteAt == 0 && c.Token != "" {
			p.tokens[c.Token] = true
		}
	}
	return true
}
