package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
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
				if e.Kind == "alert" && strings.Contains(e.Text, "expected pods") {
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
