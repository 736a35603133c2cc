package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestDemoFeedsTheBoard: --demo brings every story of the stream within a
// few rounds, the P1 and the replicas clue of the pod down included.
func TestDemoFeedsTheBoard(t *testing.T) {
	cfg := config.Default()
	cfg.DB = t.TempDir() + "/runbot.db"
	cfg.Listen = "127.0.0.1:0"
	cfg.Policy.RepeatNotice = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: slog.New(slog.DiscardHandler), Demo: true, DemoEvery: 100 * time.Millisecond,
			Ready: func(a net.Addr) { addr <- a }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stopping: %v", err)
		}
	}()
	base := "http://" + (<-addr).String()
	eventually(t, 15*time.Second, "every demo story on the board", func() (bool, string) {
		services := map[string]bool{}
		for _, inc := range listIncidents(t, base, "", "?state=active") {
			services[inc.Service] = true
		}
		return services["user-sync-service"] && services["document-service"] && services["payment-gateway"] && services["checkout"], describe(services)
	})
	eventually(t, 15*time.Second, "the replicas clue of the pod down", func() (bool, string) {
		for _, inc := range listIncidents(t, base, "", "?service=payment-gateway") {
			full := getIncidentAt(t, base, inc.ID)
			for _, e := range full.Timeline {
				if e.Kind == "alert" && strings.Contains(e.Text, "from 1 of 2 replicas: payment-gateway-54fb9-n4vkg") {
					return true, ""
				}
			}
		}
		return false, "no clue yet"
	})
}

func getIncidentAt(t *testing.T, base string, id int64) incidentView {
	var inc incidentView
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", base, id), "", "", &inc)
	return inc
}

// TestDemoStoryEndsByItself: the demo tells its story once, an outage
// with a P1, repeats, recoveries at the source, and then stops feeding
// alerts: feedDemo returns on its own, its context never cancelled. The
// interval is a millisecond here; at the default 3 s the story lasts
// about two minutes.
func TestDemoStoryEndsByItself(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- feedDemo(ctx, svc, time.Millisecond, slog.New(slog.NewTextHandler(logs, nil))) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("feeding the demo: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the demo feed still runs after a minute of 1 ms beats: it never ends\n%s", logs)
	}
	if !strings.Contains(logs.String(), "the demo story is told") {
		t.Errorf("the end of the story is not logged:\n%s", logs)
	}

	all, err := svc.FindIncidents(ctx, incidents.IncidentFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*incidents.Incident{}
	for _, inc := range all {
		if by[inc.Service] != nil {
			t.Errorf("two incidents for %s: the story's repeats should join one", inc.Service)
		}
		by[inc.Service] = inc
	}
	for _, s := range []string{"user-sync-service", "document-service", "payment-gateway", "checkout", "search-api"} {
		if by[s] == nil {
			t.Fatalf("no incident for %s; got %s", s, describe(by))
		}
	}
	if p := by["checkout"].Priority; p != incidents.P1 {
		t.Errorf("the outage is %s, want a P1", p)
	}
	for _, s := range []string{"checkout", "payment-gateway", "user-sync-service"} {
		if n := by[s].AlertCount; n < 3 {
			t.Errorf("%s fired %d times, want repeats", s, n)
		}
	}
	for _, s := range []string{"checkout", "payment-gateway", "search-api"} {
		if !by[s].SourceResolved {
			t.Errorf("%s did not recover at its source", s)
		}
	}
	if by["document-service"].SourceResolved {
		t.Error("every alert recovered: the person has nothing left to chase")
	}
}

// TestDemoUsesItsOwnDatabaseAndLogsTheURL: "runbot --demo" never writes
// the default runbot.db (nor RUNBOT_DB's file): it keeps its story in a
// database of its own, named in the log and removed when it stops. The
// log says which URL to open, and the story ends by itself.
func TestDemoUsesItsOwnDatabaseAndLogsTheURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mine := filepath.Join(dir, "mine.db")
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addrc, exited := make(chan net.Addr, 1), make(chan int, 1)
	go func() {
		exited <- serveWith(ctx, []string{"--demo", "--listen", "127.0.0.1:0"}, getenv(map[string]string{"RUNBOT_DB": mine,
			// A shell where the team's chat is configured: the demo must not post there.
			"RUNBOT_SLACK_BOT_TOKEN": "xoxb-demo-must-not-post", "RUNBOT_SLACK_APP_TOKEN": "xapp-demo-must-not-post",
			"RUNBOT_SLACK_API_URL": "http://127.0.0.1:9/api/"}), logs,
			Deps{DemoEvery: time.Millisecond, Ready: func(a net.Addr) { addrc <- a }})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case code := <-exited:
		t.Fatalf("runbot --demo exited %d:\n%s", code, logs)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if code := <-exited; code != 0 {
				t.Errorf("runbot --demo exited %d:\n%s", code, logs)
			}
		}
	}
	defer stop()

	if !regexp.MustCompile(`msg="runbot is up" .*platforms=web `).MatchString(logs.String()) {
		t.Errorf("the demo runs beside a chat platform; it must be the console's alone:\n%s", logs)
	}
	url := "http://" + addr.String() + "/"
	if !strings.Contains(logs.String(), "open "+url+" in a browser") {
		t.Errorf("the log does not say to open %s:\n%s", url, logs)
	}
	m := regexp.MustCompile(`msg="demo: [^"]*" .*db=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("the log does not name the demo's database:\n%s", logs)
	}
	demoDB := strings.Trim(m[1], `"`)
	if filepath.Base(demoDB) != "runbot-demo.db" || filepath.Dir(demoDB) == dir {
		t.Errorf("the demo's database is %s, want a runbot-demo.db of its own outside the working directory", demoDB)
	}
	if _, err := os.Stat(demoDB); err != nil {
		t.Errorf("the demo's database: %v", err)
	}
	eventually(t, time.Minute, "the story told", func() (bool, string) {
		return strings.Contains(logs.String(), "the demo story is told"), "not yet"
	})
	if n := len(listIncidents(t, "http://"+addr.String(), "", "")); n == 0 {
		t.Error("the story left no incident on the board")
	}
	stop()
	for _, p := range []string{filepath.Join(dir, "runbot.db"), mine} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the demo touched %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(demoDB)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the demo's database outlived it: %v", err)
	}
}

// TestMainLogsTheConsoleURL: a normal start says which URL to open, with
// 127.0.0.1 for an address that listens everywhere, and the public URL
// when one is configured.
func TestMainLogsTheConsoleURL(t *testing.T) {
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addrc, exited := make(chan net.Addr, 1), make(chan int, 1)
	go func() {
		exited <- serveWith(ctx, []string{"--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "runbot.db")}, getenv(nil), logs,
			Deps{Ready: func(a net.Addr) { addrc <- a }})
	}()
	select {
	case a := <-addrc:
		if want := "open http://" + a.String() + "/ in a browser"; !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	case code := <-exited:
		t.Fatalf("runbot exited %d:\n%s", code, logs)
	}
	cancel()
	if code := <-exited; code != 0 {
		t.Errorf("runbot exited %d:\n%s", code, logs)
	}

	for _, c := range []struct {
		public string
		addr   net.Addr
		want   string
	}{
		{"", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://127.0.0.1:8080/"},
		{"", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://127.0.0.1:8080/"},
		{"", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080/"},
		{"", &net.TCPAddr{IP: net.ParseIP("10.0.0.7"), Port: 80}, "http://10.0.0.7:80/"},
		{"https://runbot.example/ops", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "https://runbot.example/ops/"},
	} {
		if got := consoleURL(c.public, c.addr); got != c.want {
			t.Errorf("consoleURL(%q, %s) = %s, want %s", c.public, c.addr, got, c.want)
		}
	}
}
