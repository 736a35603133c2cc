package bottest_test

import (
	"testing"

	"github.com/runbot-dev/runbot/bot/bottest"
)

func TestRecorderPassesTheContract(t *testing.T) {
	bottest.Contract(t, func(t *testing.T) bottest.Env {
		r := bottest.NewRecorder("fake", "incidents")
		return bottest.Env{Platform: r, Chat: r, DefaultChannel: "incidents", OtherChannel: "payments"}
	})
}

func TestHTTPPlatformPassesTheContract(t *testing.T) {
	bottest.Contract(t, func(t *testing.T) bottest.Env {
		s := bottest.NewServer("fakehttp", "incidents")
		t.Cleanup(s.Close)
		return bottest.Env{Platform: bottest.NewHTTPPlatform("fakehttp", "incidents", s.URL()), Chat: s, DefaultChannel: "incidents", OtherChannel: "payments"}
	})
}
