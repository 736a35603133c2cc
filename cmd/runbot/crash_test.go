package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildRunbot compiles the command once per test binary run; TestMain
// removes it.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	// cluster.Main runs the tests, and stops the PostgreSQL server if one
	// of them started it.
	code := cluster.Main(m)
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	if seeded.dir != "" {
		os.RemoveAll(seeded.dir)
	}
	os.Exit(code)
}

func buildRunbot(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runbot-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "runbot")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// process is runbot running as its own OS process, so it can be killed.
type process struct {
	cmd *exec.Cmd
	url string
}

func startProcess(t *testing.T, bin, db string) *process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "RUNBOT_DB="+db, "RUNBOT_LISTEN=127.0.0.1:0", "RUNBOT_LOG_FORMAT=json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "runbot is up" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		return &process{cmd: cmd, url: "http://" + a}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("runbot did not start within 15s")
	}
	return nil
}

// TestCrashLosesNothing kills runbot with SIGKILL while at least 32
// requests are in flight, five times at random moments. After every
// restart, each alert answered with a 2xx is stored and no fingerprint has
// two active incidents.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	bin := buildRunbot(t)
	db := filepath.Join(t.TempDir(), "runbot.db")
	const (
		rounds  = 5
		workers = 48
		hot     = 10 // fingerprints shared by every round: dedup under crashes
	)
	hotAcked := 0
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}

	var acked map[string]bool // unique fingerprints answered 2xx in the previous round
	var prevRound int
	for round := 1; round <= rounds+1; round++ {
		p := startProcess(t, bin, db)
		if acked != nil {
			verifyStored(t, p.url, prevRound, workers, acked, hot, hotAcked)
		}
		if round > rounds {
			p.cmd.Process.Signal(syscall.SIGTERM)
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("graceful stop after the crashes: %v", err)
			}
			break
		}

		acked = map[string]bool{}
		var mu sync.Mutex
		var inflight atomic.Int64
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ctx.Err() == nil; n++ {
					fp := fmt.Sprintf("crash-%d-%d-%d", round, w, n)
					service := fmt.Sprintf("crash-%d-%d", round, w)
					if n%2 == 1 {
						fp, service = fmt.Sprintf("hot-%d", (w+n)%hot), "hot"
					}
					body := fmt.Sprintf(`{"service":%q,"summary":"crash test alert","fingerprint":%q}`, service, fp)
					inflight.Add(1)
					resp, err := client.Post(p.url+"/api/v1/alerts/generic", "application/json", strings.NewReader(body))
					inflight.Add(-1)
					if err != nil {
						return // the server is gone
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode/100 == 2 {
						mu.Lock()
						if service == "hot" {
							hotAcked++
						} else {
							acked[fp] = true
						}
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(150+rand.IntN(600)) * time.Millisecond)
		// Wait for a moment with at least 32 requests in flight, then kill.
		deadline := time.Now().Add(5 * time.Second)
		for inflight.Load() < 32 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		n := inflight.Load()
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		stop()
		wg.Wait()
		if n < 32 {
			t.Fatalf("round %d: only %d requests in flight at the kill", round, n)
		}
		t.Logf("round %d: killed with %d requests in flight; %d unique alerts acknowledged so far this round", round, n, len(acked))
		if len(acked) == 0 {
			t.Fatalf("round %d: no request succeeded before the kill", round)
		}
		prevRound = round
	}
}

func verifyStored(t *testing.T, base string, round, workers int, acked map[string]bool, hot, hotAcked int) {
	t.Helper()
	seen := map[string]int{}
	for w := range workers {
		for _, inc := range listIncidents(t, base, "", fmt.Sprintf("?service=crash-%d-%d&limit=1000", round, w)) {
			seen[inc.Fingerprint]++
		}
	}
	for fp := range acked {
		if seen[fp] == 0 {
			t.Errorf("round %d: alert %s was answered 2xx but is not stored", round, fp)
		}
	}
	for fp, n := range seen {
		if n > 1 {
			t.Errorf("round %d: fingerprint %s has %d incidents", round, fp, n)
		}
	}
	hotIncidents := listIncidents(t, base, "", "?service=hot&limit=1000")
	total := 0
	perFP := map[string]int{}
	for _, inc := range hotIncidents {
		perFP[inc.Fingerprint]++
		total += inc.AlertCount
	}
	if len(hotIncidents) != hot || len(perFP) != hot {
		t.Errorf("round %d: %d incidents for %d hot fingerprints: duplicated or lost", round, len(hotIncidents), hot)
	}
	// At least once: a request may commit and lose its answer in the kill.
	if total < hotAcked {
		t.Errorf("round %d: hot incidents count %d alerts, but %d were answered 2xx", round, total, hotAcked)
	}
}
