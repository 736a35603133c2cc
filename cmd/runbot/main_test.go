package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, getenv(nil), &out, &bytes.Buffer{}); code != 0 || !strings.HasPrefix(out.String(), "runbot ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
}

func TestStartupErrorsNameTheSetting(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "runbot.yaml")
	os.WriteFile(cfgFile, []byte("sla:\n  P1: {ack: soon}\n"), 0o600)
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--config", cfgFile}, nil, `sla.P1.ack: "soon" is not a positive duration`},
		{nil, map[string]string{"RUNBOT_CONFIG": cfgFile}, `sla.P1.ack`},
		{[]string{"--listen", "nowhere"}, nil, `--listen: "nowhere" is not host:port`},
		{nil, map[string]string{"RUNBOT_LOG_LEVEL": "loud"}, `RUNBOT_LOG_LEVEL: `},
		{[]string{"serve"}, nil, `unknown command "serve"`},
	} {
		var stderr bytes.Buffer
		if code := run(c.args, getenv(c.env), &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("run %v %v: exit %d, stderr %q; want exit 2 naming %q", c.args, c.env, code, stderr.String(), c.want)
		}
	}
}

func TestListeningBeyondLoopback(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "0.0.0.0:0"
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	err := Run(t.Context(), cfg, Deps{})
	if err == nil || !strings.Contains(err.Error(), "refusing to listen on 0.0.0.0:0 without a token") {
		t.Fatalf("Run beyond loopback without a token: %v", err)
	}
	if _, statErr := os.Stat(cfg.DB); !os.IsNotExist(statErr) {
		t.Fatal("runbot touched its database before refusing to start")
	}

	// With a token it starts, and requests without the token get 401.
	cfg.IntakeToken = "s3cret"
	ctx, cancel := context.WithCancel(t.Context())
	addrc, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() { done <- Run(ctx, cfg, Deps{Ready: func(a net.Addr) { addrc <- a }}) }()
	var port int
	select {
	case a := <-addrc:
		port = a.(*net.TCPAddr).Port
	case err := <-done:
		t.Fatalf("Run with a token: %v", err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code := call(t, "GET", base+"/api/v1/incidents", "", "", nil); code != 401 {
		t.Errorf("without the token: %d, want 401", code)
	}
	if code := call(t, "POST", base+"/api/v1/alerts/generic", "", `{"service":"a","summary":"b"}`, nil); code != 401 {
		t.Errorf("intake without the token: %d, want 401", code)
	}
	if code := call(t, "GET", base+"/api/v1/incidents", "s3cret", "", nil); code != 200 {
		t.Errorf("with the token: %d, want 200", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopping: %v", err)
	}
}
