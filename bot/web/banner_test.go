package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/digest"
)

// TestBannerOnEveryPage: a warning given by the banner shows as an alert
// bar on every page of someone signed in, escaped, and goes when it is "".
func TestBannerOnEveryPage(t *testing.T) {
	banner := `⚠ chat delivery stuck for 7m: 3 messages waiting, the oldest to slack/#incidents: <channel_not_found>`
	h := newConsoleWith(t, web.ConsoleOptions{
		Banner:  func() string { return banner },
		Morning: func(context.Context) (digest.Morning, error) { return nightDigest(), nil },
	}, nil)
	want := `<p class="banner" role="alert">⚠ chat delivery stuck for 7m: 3 messages waiting, the oldest to slack/#incidents: &lt;channel_not_found&gt;</p>`
	for _, path := range []string{"/", "/morning"} {
		code, page := get(t, h, path)
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("GET %s: %d, no banner %q in:\n%s", path, code, want, page)
		}
		if a, b := strings.Index(page, `class="banner"`), strings.Index(page, "<main>"); a > b {
			t.Errorf("GET %s: the banner comes after the page's content", path)
		}
	}

	// Strangers on the sign-in page are told nothing of runbot's state.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 || strings.Contains(rec.Body.String(), "chat delivery") {
		t.Errorf("sign-in page: %d, shows the banner: %v", rec.Code, strings.Contains(rec.Body.String(), "chat delivery"))
	}

	banner = ""
	if _, page := get(t, h, "/"); strings.Contains(page, `class="banner"`) {
		t.Errorf("the banner stays after it is gone:\n%s", page)
	}
}
