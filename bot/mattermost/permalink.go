package mattermost

import (
	"context"
	"errors"
	"net/url"

	"github.com/runbot-dev/runbot/bot"
)

var _ bot.Permalinker = (*Platform)(nil)

// Permalink implements bot.Permalinker. Mattermost's permalinks are made,
// not asked for: <server>/<team>/pl/<post id>, which opens the post in
// whichever channel it is, so no API call (and no failure) is involved.
func (p *Platform) Permalink(_ context.Context, _, ref string) (string, error) {
	if ref == "" {
		return "", bot.Permanent(errors.New("linking to a mattermost post: no post id"))
	}
	return p.cfg.URL + "/" + url.PathEscape(p.cfg.Team) + "/pl/" + url.PathEscape(ref), nil
}
