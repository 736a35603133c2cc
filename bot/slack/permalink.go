package slack

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/runbot-dev/runbot/bot"
)

var _ bot.Permalinker = (*Platform)(nil)

// Permalink implements bot.Permalinker with chat.getPermalink: Slack's
// links carry the workspace's domain, which only Slack knows. A message
// id names its channel, so channel is not needed.
func (p *Platform) Permalink(ctx context.Context, _, r string) (string, error) {
	ch, ts, err := parseRef(r)
	if err != nil {
		return "", err
	}
	link, err := p.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: ch, Ts: ts})
	if err != nil {
		return "", fmt.Errorf("getting a slack permalink: %w", mapErr(err))
	}
	return link, nil
}
