package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/redact"
)

func TestURLMasksCredentialsAndKeepsTheRest(t *testing.T) {
	for raw, want := range map[string]string{
		"https://chat.example.com":                                           "https://chat.example.com",
		"https://bot:hunter2@chat.example.com/":                              "https://bot:xxxxx@chat.example.com/",
		"https://ghp_0123456789abcdef@git.example.com/x":                     "https://xxxxx@git.example.com/x",
		"http://u:p%40ss@127.0.0.1:8080/v1?api-version=2024-06":              "http://u:xxxxx@127.0.0.1:8080/v1?api-version=2024-06",
		"https://api.example.com/v1?api_key=k1&model=m&token=t2":             "https://api.example.com/v1?api_key=xxxxx&model=m&token=xxxxx",
		"https://x.blob.core.windows.net/c?sv=2022&sig=abc%2Bdef":            "https://x.blob.core.windows.net/c?sv=2022&sig=xxxxx",
		"https://s3.example.com/b?X-Amz-Signature=f00&X-Amz-Credential=AKIA": "https://s3.example.com/b?X-Amz-Signature=xxxxx&X-Amz-Credential=xxxxx",
		"https://maps.example.com/?key=AIzaSy&Subscription-Key=s":            "https://maps.example.com/?key=xxxxx&Subscription-Key=xxxxx",
		"https://app.example.com/cb#access_token=at&state=s":                 "https://app.example.com/cb#access_token=xxxxx&state=s",
		"https://app.example.com/docs#section-2":                             "https://app.example.com/docs#section-2",
		"https://h.example.com/?password=&code=c0de":                         "https://h.example.com/?password=&code=xxxxx",
		// Not a valid URL (a bad port, no scheme): masked all the same,
		// as in the error that rejects it.
		"https://bot:hunter2@chat.example.com:port": "https://bot:xxxxx@chat.example.com:port",
		"bot:hunter2@chat.example.com":              "bot:xxxxx@chat.example.com",
		"":                                          "",
	} {
		if got := redact.URL(raw); got != want {
			t.Errorf("URL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestCredentialsAreWhatURLMasks(t *testing.T) {
	got := redact.Credentials("https://bot:p%40ss@chat.example.com/hook?token=t0k3n&team=ops")
	for _, want := range []string{"p%40ss", "p@ss", "t0k3n"} {
		if !slices.Contains(got, want) {
			t.Errorf("Credentials lacks %q: %q", want, got)
		}
	}
	if slices.Contains(got, "ops") || slices.Contains(got, "bot") {
		t.Errorf("Credentials holds more than secrets: %q", got)
	}
	if got := redact.Credentials("https://chat.example.com/"); len(got) != 0 {
		t.Errorf("a URL without credentials has %q", got)
	}
}

func TestRedactorRemovesValuesAndURLCredentials(t *testing.T) {
	r := redact.New([]string{"xoxb-0123456789", "p@ss/word!", "abc", ""})
	in := `posting: Post "https://hooks.example.com/page?token=T0K3N": token xoxb-0123456789 refused; ` +
		`pass=p%40ss%2Fword%21 and p@ss/word! and https://bob:pw@db.example.com; abc stays`
	got := r.String(in)
	for _, secret := range []string{"T0K3N", "xoxb-0123456789", "p%40ss%2Fword%21", "p@ss/word!", ":pw@"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q left in %q", secret, got)
		}
	}
	for _, kept := range []string{"https://hooks.example.com/page?token=xxxxx", "https://bob:xxxxx@db.example.com", "abc stays"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q missing from %q", kept, got)
		}
	}
	if s := "nothing secret here: https://runbot.example.com/incidents/42"; redact.New(nil).String(s) != s {
		t.Errorf("an ordinary line changed: %q", redact.New(nil).String(s))
	}
}

type configLike struct{ url, token string }

func (c configLike) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.url), slog.Bool("token_set", c.token != ""))
}

// TestHandlerCleansEveryRecord logs secrets every way slog allows: in the
// message, as strings, errors, groups, LogValuers, pre-set attributes and
// values of other kinds; none reaches the output.
func TestHandlerCleansEveryRecord(t *testing.T) {
	const token = "sekrit-T0K3N-42"
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		var next slog.Handler = slog.NewJSONHandler(&buf, nil)
		if format == "text" {
			next = slog.NewTextHandler(&buf, nil)
		}
		log := slog.New(redact.New([]string{token}).Handler(next))
		req, _ := http.NewRequest("GET", "https://api.example.com/v1?api_key=QUERYKEY", nil)
		_, reqErr := (&http.Client{Transport: failing{}}).Do(req)

		log.With("preset", "Bearer "+token).WithGroup("g").Info("calling with "+token, "operation", "testing",
			"error", fmt.Errorf("wrapped: %w", errors.New("bad token "+token)),
			"url_error", reqErr,
			"config", configLike{url: "https://u:PASSWORD1@chat.example.com", token: token},
			"list", []string{"ok", token},
			"group", slog.GroupValue(slog.String("inner", "https://u:PASSWORD2@x.example.com")),
			"count", 3)
		out := buf.String()
		for _, secret := range []string{token, "QUERYKEY", "PASSWORD1", "PASSWORD2"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: %q logged: %s", format, secret, out)
			}
		}
		for _, kept := range []string{"operation", "testing", "https://u:xxxxx@chat.example.com", "count", "api_key=xxxxx"} {
			if !strings.Contains(out, kept) {
				t.Errorf("%s: %q missing: %s", format, kept, out)
			}
		}
	}
	var buf bytes.Buffer
	slog.New(redact.New(nil).Handler(slog.NewJSONHandler(&buf, nil))).Info("x", "operation", "testing", "list", []string{"a", "b"})
	if !strings.Contains(buf.String(), `"list":["a","b"]`) {
		t.Errorf("a value without secrets lost its shape: %s", buf.String())
	}
}

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

// TestHandlerWrapsOnce: runbot's Run filters the logger it is given, and
// the binary gives it one filtered already; cleaning every record twice
// would cost twice for nothing. A filter of other secrets still wraps.
func TestHandlerWrapsOnce(t *testing.T) {
	var buf bytes.Buffer
	next := slog.NewJSONHandler(&buf, nil)
	once := redact.New([]string{"secret-one", "secret-two"}).Handler(next)
	if again := redact.New([]string{"secret-two", "secret-one"}).Handler(once); again != once {
		t.Errorf("a filter of the same secrets wrapped the filtered handler again")
	}
	with := once.WithAttrs([]slog.Attr{slog.String("platform", "x")})
	if again := redact.New([]string{"secret-one"}).Handler(with); again != with {
		t.Errorf("a filter of fewer secrets wrapped the filtered handler again")
	}
	more := redact.New([]string{"secret-one", "secret-three"}).Handler(once)
	if more == once {
		t.Fatalf("a filter of another secret did not wrap")
	}
	slog.New(more).Info("x", "a", "secret-one secret-two secret-three")
	if out := buf.String(); strings.Contains(out, "secret-") {
		t.Errorf("a secret logged: %s", out)
	}
}
