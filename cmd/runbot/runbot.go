package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/postmortem"
	"github.com/runbot-dev/runbot/runweek"
)

// Deps is what New (and Run) take besides the configuration.
type Deps struct {
	Logger *slog.Logger
	// Ready, when set, is called with the HTTP address once requests are
	// accepted.
	Ready func(net.Addr)
	// Platforms are chat platforms to run beside the configured ones
	// (tests plug fakes in here).
	Platforms []bot.Platform
	// Demo tells the demo's story once, a step every DemoEvery (default
	// 3 seconds), about two minutes.
	Demo      bool
	DemoEvery time.Duration
	// MattermostDialer opens Mattermost's WebSocket (tests cut it).
	MattermostDialer *websocket.Dialer
}

// Run runs runbot until ctx ends, then shuts down gracefully: New, then
// the App's Run. It never touches signals, so tests boot the whole bot
// with it on port 0.
func Run(ctx context.Context, cfg config.Config, deps Deps) error {
	app, err := New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	defer app.Close()
	return app.Run(ctx)
}

// newPostmortemWriter builds the post-mortem drafter: the LLM when one is
// configured, else the template; drafting says which, for people.
func newPostmortemWriter(cfg config.Config, svc postmortem.Store, catalog incidents.Catalog, logger *slog.Logger) (*postmortem.Writer, string, error) {
	redactor, err := postmortem.NewRedactor(cfg.Secrets(), cfg.Redact)
	if err != nil {
		return nil, "", fmt.Errorf("configuring redaction: %w", err)
	}
	var llm *postmortem.LLMConfig
	drafting := "from the template"
	if cfg.LLM.BaseURL != "" {
		llm = &postmortem.LLMConfig{BaseURL: cfg.LLM.BaseURL, Model: cfg.LLM.Model, APIKey: cfg.LLM.APIKey, APIType: cfg.LLM.APIType,
			APIVersion: cfg.LLM.APIVersion, Stream: cfg.LLM.Stream, Timeout: cfg.LLM.Timeout}
		drafting = "with " + cfg.LLM.Model
	}
	drafter, err := postmortem.NewDrafter(llm, redactor, logger)
	if err != nil {
		return nil, "", fmt.Errorf("configuring the post-mortem drafter: %w", err)
	}
	w := postmortem.NewWriter(svc, drafter, cfg.Policy, cfg.Timezone, logger)
	w.Catalog = catalog
	return w, drafting, nil
}

// runRoutines are the RUN week's scheduled posts: the morning check on
// working days, addressed to the RUN person, and the handover at the end
// of each RUN week, addressed to the outgoing and the incoming one.
func runRoutines(rw config.RunWeek, router *commands.Router, duty *runweek.Duty) []runweek.Routine {
	var list []runweek.Routine
	if !rw.MorningOff {
		list = append(list, runweek.Routine{Name: "morning_check", Next: runweek.MorningTimes(rw.Calendar, rw.MorningAt), Grace: 3 * time.Hour,
			Compose: func(ctx context.Context, _, now time.Time) (runweek.Post, error) {
				m, err := router.MorningCheck(ctx, now)
				if err != nil {
					return runweek.Post{}, err
				}
				return runweek.Post{Channel: rw.MorningChannel, Text: m.Markdown(), Audience: audienceOf(duty.RunShift(now).Person)}, nil
			}})
	}
	if duty.HasRotation() {
		list = append(list, runweek.Routine{Name: "handover", Next: runweek.HandoverTimes(rw.Rotation), Grace: 24 * time.Hour,
			Compose: func(ctx context.Context, due, now time.Time) (runweek.Post, error) {
				from, _ := duty.Week(due.Add(-time.Millisecond))
				h, err := router.Handover(ctx, from, due, now)
				if err != nil {
					return runweek.Post{}, err
				}
				return runweek.Post{Channel: rw.MorningChannel, Text: h.Markdown(), Audience: audienceOf(h.Outgoing, h.Incoming)}, nil
			}})
	}
	return list
}

func audienceOf(names ...string) incidents.Audience {
	var a incidents.Audience
	for _, n := range names {
		if n != "" && !slices.Contains(a.Users, n) {
			a.Users = append(a.Users, n)
		}
	}
	return a
}
