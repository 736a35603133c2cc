package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireTool finds a program a test needs: the path in env when set, else
// the first name on PATH. On a laptop without it the test is skipped;
// under CI=true it fails, because .ci/run installs it.
func requireTool(t testing.TB, env string, names ...string) string {
	t.Helper()
	if env != "" {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("%s=%s: %v", env, p, err)
			}
			return p
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	missing(t, fmt.Sprintf("none of %v is installed", names))
	return ""
}

// missing skips a test that lacks something outside the repository, or
// fails it under CI=true.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; .ci/run must install it", what)
	}
	t.Skip(what)
}

// repoRoot is the module's root: the tests run in deploy/.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildEnv is the environment of a go build run by a test: .ci/run runs the
// test binaries one at a time (GOFLAGS=-p=1), which a build of its own need
// not follow.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			var kept []string
			for _, f := range strings.Fields(v) {
				if !strings.HasPrefix(f, "-p=") {
					kept = append(kept, f)
				}
			}
			kv = "GOFLAGS=" + strings.Join(kept, " ")
		}
		env = append(env, kv)
	}
	return env
}

// buildRunbot builds runbot as the image has it, with deploy/image/build,
// so that the image's build finds it in the build cache.
func buildRunbot(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "runbot")
	cmd := exec.Command(filepath.Join(repoRoot(t), "deploy", "image", "build"), "--binary", bin)
	cmd.Env = buildEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building runbot: %v\n%s", err, out)
	}
	return bin
}

// freePort is a loopback port nobody listens on, for a server started by
// another process.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// run runs a command and returns its output; a failure fails the test with
// both streams.
func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// waitReady polls /readyz until it answers 200: runbot takes alerts.
func waitReady(t testing.TB, base string, logs func() string) {
	t.Helper()
	waitFor(t, base+"/readyz", logs)
}

func waitFor(t testing.TB, url string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer 200 after 60 s (last: %v)\n%s", url, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
