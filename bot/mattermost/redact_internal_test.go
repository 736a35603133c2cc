package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// TestNewRefusesURLCredentials: Mattermost authenticates runbot with the
// bot token, and its WebSocket client refuses a URL with credentials
// ("malformed ws or wss URL") after the REST calls worked. A URL refused
// is quoted without its credentials.
func TestNewRefusesURLCredentials(t *testing.T) {
	for raw, want := range map[string]string{
		"https://bot:Hunter2-pw@chat.example.com": "bot:xxxxx@chat.example.com",
		"https://Hunter2-tok@chat.example.com":    "xxxxx@chat.example.com",
		"bot:Hunter2-pw@chat.example.com":         "http://",
	} {
		_, err := New(Config{URL: raw, Token: "tok", Team: "ops", DefaultChannel: "~incidents", ActionSecret: []byte("k")})
		if err == nil || strings.Contains(err.Error(), "Hunter2") || !strings.Contains(err.Error(), want) {
			t.Errorf("New(URL %s) = %v, want it refused, naming %s without the credentials", raw, err, want)
		}
	}
	if _, err := New(Config{URL: "https://chat.example.com/mm/", Token: "tok", Team: "ops", DefaultChannel: "~incidents", ActionSecret: []byte("k")}); err != nil {
		t.Errorf("a URL without credentials: %v", err)
	}
}

// TestRegisteringLogsURLsMasked: the URLs runbot logs while registering
// its slash commands (its callback, another integration's command) may
// carry credentials; each call site masks them, whatever filter the
// logger has.
func TestRegisteringLogsURLsMasked(t *testing.T) {
	const other = "https://other:OtherPass-2@hooks.example.com/cmd?token=OtherTok-3"
	for _, may := range []bool{false, true} {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/v4/users/me", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(&model.User{Id: "bot-id", Username: "runbot", IsBot: true})
		})
		mux.HandleFunc("GET /api/v4/teams/name/ops", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(&model.Team{Id: "team-id", Name: "ops"})
		})
		mux.HandleFunc("GET /api/v4/commands", func(w http.ResponseWriter, r *http.Request) {
			if !may {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"id":"api.context.permissions.app_error","message":"You do not have the appropriate permissions.","status_code":403}`))
				return
			}
			json.NewEncoder(w).Encode([]*model.Command{{Id: "c1", TeamId: "team-id", Trigger: "runbot", CreatorId: "someone-else", URL: other}})
		})
		srv := httptest.NewServer(mux)
		var logs bytes.Buffer
		p, err := New(Config{URL: srv.URL, Token: "tok", Team: "ops", DefaultChannel: "~incidents", ActionSecret: []byte("k"),
			CallbackURL: "https://runbot:CallbackPass-1@runbot.example.com", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.RegisterCommands(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		for _, secret := range []string{"CallbackPass-1", "OtherPass-2", "OtherTok-3"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("may manage commands %v: %s logged:\n%s", may, secret, logs.String())
			}
		}
		want := "runbot:xxxxx@runbot.example.com/mattermost/commands"
		if may {
			want = "other:xxxxx@hooks.example.com/cmd?token=xxxxx"
		}
		if !strings.Contains(logs.String(), want) {
			t.Errorf("may manage commands %v: the log does not show %s:\n%s", may, want, logs.String())
		}
	}
}
