// Package slack connects runbot to Slack (github.com/slack-go/slack):
// incident threads in Block Kit, edited in place; slash commands, mentions
// and buttons over Socket Mode or signed HTTP requests.
package slack
