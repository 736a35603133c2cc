// Package mattermost is runbot on Mattermost: a bot account posts each
// incident's card with buttons and edits it in place, slash commands and
// button presses come back over HTTP, and people's posts arrive over the
// WebSocket, with a catch-up through the REST API after each reconnect.
package mattermost
