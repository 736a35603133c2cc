package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testAlertmanager is a real Prometheus Alertmanager on loopback whose
// webhook goes to a runbot under test. It can be stopped and started
// again on the same port, as a pipeline that breaks and comes back.
type testAlertmanager struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	log  string
	cmd  *exec.Cmd
}

// newAlertmanager prepares one; its log and runbot's (logs) are shown
// when the test fails.
func newAlertmanager(t *testing.T, bin string, logs fmt.Stringer) *testAlertmanager {
	am := &testAlertmanager{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	am.log = filepath.Join(am.dir, "alertmanager.log")
	t.Cleanup(func() {
		am.stop()
		if t.Failed() {
			out, _ := os.ReadFile(am.log)
			t.Logf("alertmanager log:\n%s\nrunbot log:\n%s", out, logs)
		}
	})
	return am
}

func (am *testAlertmanager) url() string { return fmt.Sprintf("http://127.0.0.1:%d", am.port) }

// start runs Alertmanager with one route to runbot and waits until it is
// ready. Alertmanager keeps no alerts across restarts.
func (am *testAlertmanager) start(runbotURL, token, groupWait, repeatInterval string) {
	t := am.t
	t.Helper()
	conf := fmt.Sprintf(`route:
  receiver: runbot
  group_by: [alertname]
  group_wait: %s
  group_interval: 1s
  repeat_interval: %s
receivers:
  - name: runbot
    webhook_configs:
      - url: %s/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: %s
`, groupWait, repeatInterval, runbotURL, token)
	if err := os.WriteFile(filepath.Join(am.dir, "am.yml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.OpenFile(am.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child holds its own descriptor
	am.cmd = exec.Command(am.bin,
		"--config.file="+filepath.Join(am.dir, "am.yml"),
		"--storage.path="+filepath.Join(am.dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", am.port),
		"--cluster.listen-address=",
	)
	am.cmd.Stdout, am.cmd.Stderr = logFile, logFile
	if err := am.cmd.Start(); err != nil {
		t.Fatalf("starting alertmanager: %v", err)
	}
	eventually(t, 20*time.Second, "alertmanager ready", func() (bool, string) {
		resp, err := http.Get(am.url() + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

// stop kills Alertmanager: the pipeline breaks the hard way.
func (am *testAlertmanager) stop() {
	if am.cmd != nil {
		am.cmd.Process.Kill()
		am.cmd.Wait()
		am.cmd = nil
	}
}

// post gives Alertmanager alerts through its API v2, as Prometheus does.
func (am *testAlertmanager) post(body string) {
	am.t.Helper()
	resp, err := http.Post(am.url()+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		am.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		am.t.Fatalf("posting to alertmanager: %s", resp.Status)
	}
}

// postWatchdog gives it the always-firing Watchdog alert.
func (am *testAlertmanager) postWatchdog() {
	am.post(fmt.Sprintf(`[{"labels":{"alertname":"Watchdog","severity":"none"},
		"annotations":{"summary":"An alert that should always be firing, to certify that Alertmanager is working properly."},
		"endsAt":%q}]`, time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)))
}
