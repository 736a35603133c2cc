package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// podman drives the podman CLI with the settings the test machines need.
type podman struct {
	t   *testing.T
	bin string
	env []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	bin := requireTool(t, "", "podman")
	requireTool(t, "", "runc")
	// The default ulimits name a number of open files above what an
	// unprivileged sandbox may grant, and podman refuses to start the
	// container; without them it inherits the test's own.
	conf := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &podman{t: t, bin: bin, env: append(buildEnv(), "CONTAINERS_CONF="+conf, "CONTAINER_ENGINE="+bin)}
}

func (p *podman) run(args ...string) string {
	p.t.Helper()
	return strings.TrimSpace(run(p.t, p.env, p.bin, append([]string{"--runtime", "runc"}, args...)...))
}

func (p *podman) runErr(args ...string) (string, error) {
	return runErr(p.env, p.bin, append([]string{"--runtime", "runc"}, args...)...)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestImage builds the image with deploy/image/build and runs it as a user
// would: the version, the refusal to listen without a token, an alert in
// and its incident out, a non-root process, a graceful stop, and the
// incident still there in a new container on the same volume.
func TestImage(t *testing.T) {
	p := newPodman(t)
	id := randomHex(t, 4)
	image := "localhost/runbot-test:" + id
	volume := "runbot-test-" + id
	t.Cleanup(func() {
		// Containers first: a volume or an image in use is not removed.
		if out, err := p.runErr("ps", "-aq", "--filter", "name=runbot-test-"+id); err == nil {
			for _, c := range strings.Fields(out) {
				_, _ = p.runErr("rm", "-f", "-t", "0", c)
			}
		}
		_, _ = p.runErr("volume", "rm", "-f", volume)
		_, _ = p.runErr("rmi", "-f", image)
	})

	build := exec.Command(filepath.Join(repoRoot(t), "deploy", "image", "build"), image)
	build.Env = p.env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/image/build: %v\n%s", err, out)
	}

	t.Run("version", func(t *testing.T) {
		out := p.run("run", "--rm", "--network", "none", image, "version")
		t.Log(out)
		if !regexp.MustCompile(`^runbot \S+`).MatchString(out) || strings.Contains(out, "unknown") {
			t.Fatalf("runbot version in the image printed %q, want runbot and the build's version", out)
		}
		if rev, err := exec.Command("git", "-C", repoRoot(t), "rev-parse", "HEAD").Output(); err == nil {
			if r := strings.TrimSpace(string(rev)); !strings.Contains(out, r) {
				t.Errorf("runbot version printed %q, want the revision %s stamped", out, r)
			}
		}
		labels := p.run("image", "inspect", "--format", "{{index .Labels \"org.opencontainers.image.version\"}}", image)
		if labels == "" || labels == "unknown" || !strings.Contains(out, labels) {
			t.Errorf("the image's version label is %q, want the version runbot prints (%q)", labels, out)
		}
	})

	t.Run("refuses to listen without a token", func(t *testing.T) {
		out, err := p.runErr("run", "--rm", "--network", "none", image)
		if err == nil || !strings.Contains(out, "refusing to listen on 0.0.0.0:8080 without a token") {
			t.Fatalf("the image started without RUNBOT_INTAKE_TOKEN (err %v):\n%s", err, out)
		}
	})

	token := randomHex(t, 32)
	port := freePort(t)
	base := "http://" + hostPort(port)
	// Host networking, on loopback: the test machines' network namespace
	// has no bridge for podman to set up.
	start := func(name string) string {
		t.Helper()
		return p.run("run", "-d", "--name", name, "--network", "host",
			"-v", volume+":/data", "-e", "RUNBOT_INTAKE_TOKEN="+token,
			"-e", "RUNBOT_LISTEN="+hostPort(port), image)
	}
	logs := func(name string) func() string {
		return func() string { out, _ := p.runErr("logs", name); return out }
	}

	first := "runbot-test-" + id + "-1"
	start(first)
	waitReady(t, base, logs(first))

	pid := p.run("inspect", "--format", "{{.State.Pid}}", first)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("reading the container's process status: %v", err)
	}
	uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`).FindStringSubmatch(string(status))
	if uid == nil || uid[1] != "65532" || uid[2] != "65532" || uid[3] != "65532" || uid[4] != "65532" {
		t.Fatalf("runbot runs as %v in the container, want uid 65532 throughout:\n%s", uid, status)
	}
	if top := p.run("top", first, "user", "huser"); !strings.Contains(top, "runbot") || strings.Contains(top, "root") {
		t.Errorf("podman top shows:\n%s\nwant runbot's user, never root", top)
	}

	api := func(method, path, body string, authorized bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if authorized {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the answer: %v", method, path, err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := api("POST", "/api/v1/alerts/generic", `{"service": "billing", "summary": "invoice export stalled"}`, false); code != http.StatusUnauthorized {
		t.Fatalf("an alert without the token got %d %s, want 401", code, body)
	}
	if code, body := api("POST", "/api/v1/alerts/generic", `{"service": "billing", "summary": "invoice export stalled", "severity": "critical"}`, true); code != http.StatusOK {
		t.Fatalf("posting an alert: %d %s", code, body)
	}
	readBack := func(which string) {
		t.Helper()
		code, body := api("GET", "/api/v1/incidents", "", true)
		if code != http.StatusOK {
			t.Fatalf("%s: listing incidents: %d %s", which, code, body)
		}
		var list struct {
			Incidents []struct {
				ID      int    `json:"id"`
				Service string `json:"service"`
				Title   string `json:"title"`
			} `json:"incidents"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("%s: decoding %s: %v", which, body, err)
		}
		if len(list.Incidents) != 1 || list.Incidents[0].Service != "billing" || !strings.Contains(list.Incidents[0].Title, "invoice export stalled") {
			t.Fatalf("%s: incidents are %+v, want the one billing incident", which, list.Incidents)
		}
	}
	readBack("first container")

	// SIGTERM, as podman stop, Kubernetes and systemd send it: runbot
	// drains and closes its database, and says so, well within the 30 s.
	p.run("stop", "-t", "30", first)
	if code := p.run("inspect", "--format", "{{.State.ExitCode}}", first); code != "0" {
		t.Fatalf("runbot exited %s on SIGTERM, want 0:\n%s", code, logs(first)())
	}
	if l := logs(first)(); !strings.Contains(l, "msg=stopped") {
		t.Fatalf("runbot's log does not end with its graceful stop:\n%s", l)
	}

	second := "runbot-test-" + id + "-2"
	start(second)
	waitReady(t, base, logs(second))
	readBack("a new container on the same volume")
	p.run("stop", "-t", "30", second)
}
