package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/runbot-dev/runbot/loadgen"
)

// comparison is what -compare runs: in one run, the same load against a
// bare handler, a real Alertmanager and runbot (durable, on SQLite with
// each db_sync asked for, and on PostgreSQL with each count of replicas),
// each a process of its own on loopback, started fresh, so that every
// figure is taken on the same machine in the same minutes, the steady
// repeats in slices taken in turn.
type comparison struct {
	plan       loadgen.Plan
	runs       int
	runbotBins []string        // runbot binaries to start, each with every db_sync; none with url
	url        string          // a running runbot instead
	token      string          // the running runbot's token
	syncs      []string        // db_sync values runbot is started with
	amBin      string          // "" leaves Alertmanager out
	pg         *postgresSource // with it, runbot on PostgreSQL too
	replicas   []int           // runbot processes per PostgreSQL target
	profileDir string          // with it, a CPU profile of runbot's steady phase per target
	self       string          // this binary, which serves the bare handler (-serve-bare)
	stdout     io.Writer
	stderr     io.Writer
}

// server is a process the comparison started.
type server struct {
	cmd    *exec.Cmd
	dir    string
	log    string
	target string    // the name of the target it serves
	once   sync.Once // stop
}

func (s *server) stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	})
}

// quiet waits until the server has used next to no CPU for half a
// second (at most 20 s): what a warm-up left it to do is done.
func (s *server) quiet(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	last, err := cpuTicks(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	still := 0
	for still < 2 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		now, err := cpuTicks(s.cmd.Process.Pid)
		if err != nil {
			return err
		}
		if now-last <= 1 { // a clock tick (10 ms) in 250 ms: idle but for timers
			still++
		} else {
			still = 0
		}
		last = now
	}
	return nil
}

// cpuTicks is the CPU time a process has used, in clock ticks
// (/proc/<pid>/stat: utime and stime).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command, in parentheses, may hold spaces: fields count from after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("reading the CPU time of process %d: %q", pid, b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %q", pid, b)
	}
	return utime + stime, nil
}

// freeAddr picks a loopback port for a server to listen on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs a server and waits until ready answers 200.
func start(ctx context.Context, dir, name, bin string, args, env []string, ready string) (*server, error) {
	s := &server{dir: dir, log: filepath.Join(dir, name+".log")}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr, s.cmd.Dir = env, logFile, logFile, dir
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			out, _ := os.ReadFile(s.log)
			return nil, fmt.Errorf("starting %s: not ready at %s within 30s (%v); its log:\n%s", name, ready, err, tail(out, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// cleanEnv is this process's environment without runbot's settings, so
// that a runbot started here runs with what the comparison says only.
func cleanEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "RUNBOT_") })
	return append(env, extra...)
}

// measured is one target's phases in one run.
type measured struct {
	name   string
	phases loadgen.Phases
}

func (c *comparison) run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "runbot-compare-")
	if err != nil {
		return fmt.Errorf("comparing: %w", err)
	}
	defer os.RemoveAll(dir)
	if c.pg != nil {
		settings, err := c.pg.settings(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s; runbot's SQLite files on %s; each runbot's pool at most %s connections\n",
			settings, filesystem(dir), c.pg.poolSize())
	}
	var all [][]measured
	for i := range c.runs {
		fmt.Fprintf(c.stdout, "run %d of %d: %d clients, one Alertmanager alert per request, %d fingerprints opened by a warm-up, steady repeats for %s (in %d slices taken in turn), then a burst of %d new ones; load average %s\n",
			i+1, c.runs, c.plan.Clients, c.plan.Fingerprints, c.plan.Steady, max(c.plan.Slices, 1), c.plan.Burst, loadAverage())
		runDir := filepath.Join(dir, fmt.Sprint(i+1))
		if err := os.Mkdir(runDir, 0o700); err != nil {
			return fmt.Errorf("comparing: %w", err)
		}
		ms, err := c.once(ctx, runDir, i+1)
		if err != nil {
			return err
		}
		c.print(ms)
		fmt.Fprintf(c.stdout, "load average after run %d: %s\n\n", i+1, loadAverage())
		all = append(all, ms)
	}
	if c.runs > 1 {
		c.printRanges(all)
	}
	return nil
}

// once measures every target once: each started fresh, all warmed up,
// their steady repeats in slices taken in turn, then each burst, a server
// stopping once its burst is measured.
func (c *comparison) once(ctx context.Context, dir string, run int) ([]measured, error) {
	var targets []loadgen.Target
	var servers []*server
	var databases []string // PostgreSQL databases to drop once their servers stopped
	defer func() {
		for _, s := range servers {
			s.stop()
		}
		for _, db := range databases {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := c.pg.drop(ctx, db); err != nil {
				fmt.Fprintln(c.stderr, "runbot-load:", err)
			}
			cancel()
		}
	}()
	// add adds a target served by ss (none: a running runbot), each
	// settled after the warm-up and stopped after the burst.
	add := func(t loadgen.Target, ss ...*server) {
		for _, s := range ss {
			s.target = t.Name
		}
		servers = append(servers, ss...)
		if len(ss) > 0 {
			t.Settle = func(ctx context.Context) error {
				for _, s := range ss {
					if err := s.quiet(ctx); err != nil {
						return err
					}
				}
				return nil
			}
			t.Done = func() {
				for _, s := range ss {
					s.stop()
				}
			}
		}
		targets = append(targets, t)
	}

	// The bare handler: this binary again, so that it is a process of its
	// own like the others and shares nothing with the load generator.
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	bare, err := start(ctx, dir, "bare", c.self, []string{"-serve-bare", addr}, cleanEnv(), "http://"+addr+"/ready")
	if err != nil {
		return nil, err
	}
	add(loadgen.Target{Name: "bare", URL: "http://" + addr, Path: loadgen.AlertmanagerPath, Bodies: loadgen.AlertmanagerWebhookBodies}, bare)

	if c.amBin != "" {
		if addr, err = freeAddr(); err != nil {
			return nil, err
		}
		amDir := filepath.Join(dir, "alertmanager")
		if err := os.Mkdir(amDir, 0o700); err != nil {
			return nil, fmt.Errorf("starting alertmanager: %w", err)
		}
		// One route to a receiver that sends nothing: what is measured is
		// Alertmanager taking alerts in, as runbot's intake does.
		conf := "route:\n  receiver: none\n  group_by: [alertname, namespace, app]\nreceivers:\n  - name: none\n"
		if err := os.WriteFile(filepath.Join(amDir, "am.yml"), []byte(conf), 0o600); err != nil {
			return nil, fmt.Errorf("starting alertmanager: %w", err)
		}
		am, err := start(ctx, amDir, "alertmanager", c.amBin, []string{"--config.file=" + filepath.Join(amDir, "am.yml"),
			"--storage.path=" + filepath.Join(amDir, "data"), "--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=warn"},
			cleanEnv(), "http://"+addr+"/-/ready")
		if err != nil {
			return nil, err
		}
		add(loadgen.Target{Name: "alertmanager", URL: "http://" + addr, Path: loadgen.AlertmanagerAPIPath, Bodies: loadgen.AlertmanagerAPIBodies}, am)
	}

	plan := c.plan
	profiles := map[string]string{} // target name -> profile file
	if c.url != "" {
		add(loadgen.Target{Name: "runbot", URL: c.url, Token: c.token, Path: loadgen.AlertmanagerPath, Bodies: loadgen.AlertmanagerWebhookBodies})
	}
	for bi, bin := range c.runbotBins {
		name := "runbot"
		if len(c.runbotBins) > 1 {
			// Builds side by side (before and after a change): each by its
			// file's name.
			name = fmt.Sprintf("runbot:%s", filepath.Base(bin))
		}
		for _, sync := range c.syncs {
			rbDir := filepath.Join(dir, fmt.Sprintf("runbot-%d-%s", bi, sync))
			if err := os.Mkdir(rbDir, 0o700); err != nil {
				return nil, fmt.Errorf("starting runbot: %w", err)
			}
			if addr, err = freeAddr(); err != nil {
				return nil, err
			}
			env := []string{"RUNBOT_DB=" + filepath.Join(rbDir, "runbot.db"), "RUNBOT_DB_SYNC=" + sync, "RUNBOT_LISTEN=" + addr}
			target := name + " sqlite " + sync
			if c.profileDir != "" {
				// The profiler is on only when a profile is asked for: the
				// figures are otherwise those of runbot as configured by default.
				env = append(env, "RUNBOT_PPROF=true")
				profiles[target] = filepath.Join(c.profileDir, fmt.Sprintf("%s-%s-run%d.pprof", strings.ReplaceAll(name, ":", "-"), sync, run))
			}
			rb, err := start(ctx, rbDir, "runbot", bin, nil, cleanEnv(env...), "http://"+addr+"/healthz")
			if err != nil {
				return nil, err
			}
			add(loadgen.Target{Name: target, URL: "http://" + addr, Path: loadgen.AlertmanagerPath, Bodies: loadgen.AlertmanagerWebhookBodies}, rb)
		}
		for _, n := range c.replicas {
			target := fmt.Sprintf("%s pg x%d", name, n)
			db, err := c.pg.create(ctx)
			if err != nil {
				return nil, err
			}
			databases = append(databases, db)
			var replicas []*server
			var urls []string
			// One after the other: the first applies the migrations, which
			// the others then find done.
			for r := range n {
				rbDir := filepath.Join(dir, fmt.Sprintf("runbot-%d-pg%d-r%d", bi, n, r+1))
				if err := os.Mkdir(rbDir, 0o700); err != nil {
					return nil, fmt.Errorf("starting runbot: %w", err)
				}
				if addr, err = freeAddr(); err != nil {
					return nil, err
				}
				env := []string{"RUNBOT_DB=" + db, "RUNBOT_LISTEN=" + addr}
				if c.profileDir != "" && r == 0 {
					// The first replica's profile: each takes an equal share.
					env = append(env, "RUNBOT_PPROF=true")
					profiles[target] = filepath.Join(c.profileDir, fmt.Sprintf("%s-pg-x%d-run%d.pprof", strings.ReplaceAll(name, ":", "-"), n, run))
				}
				rb, err := start(ctx, rbDir, "runbot", bin, nil, cleanEnv(env...), "http://"+addr+"/healthz")
				if err != nil {
					for _, s := range replicas {
						s.stop()
					}
					return nil, err
				}
				replicas = append(replicas, rb)
				urls = append(urls, "http://"+addr)
			}
			add(loadgen.Target{Name: target, URL: urls[0], URLs: urls, Path: loadgen.AlertmanagerPath, Bodies: loadgen.AlertmanagerWebhookBodies}, replicas...)
		}
	}
	if len(profiles) > 0 {
		// The steady phases take turns: a profile over all of them holds
		// runbot's own slices, and little else (it idles in the others').
		wall := plan.Steady * time.Duration(len(targets))
		plan.DuringSteady = func(ctx context.Context, t loadgen.Target) error {
			if out, ok := profiles[t.Name]; ok {
				return profile(ctx, t.URL, wall, out)
			}
			return nil
		}
	}
	phases, err := loadgen.CompareAll(ctx, plan, targets)
	if err != nil {
		// The logs of the target that failed (CompareAll's errors begin
		// with its name).
		for _, s := range servers {
			if strings.HasPrefix(err.Error(), s.target+",") {
				s.stop()
				out, _ := os.ReadFile(s.log)
				err = fmt.Errorf("%w; %s:\n%s", err, s.log, tail(out, 1000))
			}
		}
		return nil, err
	}
	out := make([]measured, len(phases))
	for i, ph := range phases {
		out[i] = measured{name: ph.Target, phases: ph}
	}
	return out, nil
}

// profile saves a CPU profile of the server at base, taken over most of
// steady (whole seconds, at least one), to path.
func profile(ctx context.Context, base string, steady time.Duration, path string) error {
	secs := max(1, int((steady-500*time.Millisecond)/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), nil)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("profiling: %s: %s", resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profiling: %w", err)
	}
	return f.Close()
}

// print writes one run's table: per target and phase, the rate, the
// latency and the ratios to the bare handler and to Alertmanager in the
// same phase.
func (c *comparison) print(ms []measured) {
	ref := func(name string) *loadgen.Phases {
		for i := range ms {
			if ms[i].name == name {
				return &ms[i].phases
			}
		}
		return nil
	}
	bare, am := ref("bare"), ref("alertmanager")
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tphase\talerts/s\tp50\tp99\tx bare\tx alertmanager\t")
	for _, m := range ms {
		for _, ph := range phasesOf(m.phases) {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t\n", m.name, ph.name, ph.r.AlertsPerSecond(),
				ph.r.P50.Round(10*time.Microsecond), ph.r.P99.Round(10*time.Microsecond), ratio(ph.r, bare, ph.name), ratio(ph.r, am, ph.name))
		}
	}
	tw.Flush()
	fmt.Fprintln(c.stdout)
}

// printRanges writes, per target and phase, the least and most of every
// run: rates and ratios.
func (c *comparison) printRanges(all [][]measured) {
	fmt.Fprintf(c.stdout, "over %d runs (least-most):\n", len(all))
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tphase\talerts/s\tp50 ms\tp99 ms\tx bare\tx alertmanager\t")
	for ti, m := range all[0] {
		for pi, ph := range phasesOf(m.phases) {
			var rate, p50, p99, xb, xa []float64
			for _, run := range all {
				r := phasesOf(run[ti].phases)[pi].r
				rate, p50, p99 = append(rate, r.AlertsPerSecond()), append(p50, millis(r.P50)), append(p99, millis(r.P99))
				if b := findPhase(run, "bare", pi); b != nil {
					xb = append(xb, r.AlertsPerSecond()/b.AlertsPerSecond())
				}
				if a := findPhase(run, "alertmanager", pi); a != nil {
					xa = append(xa, r.AlertsPerSecond()/a.AlertsPerSecond())
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.name, ph.name, span(rate, "%.0f"), span(p50, "%.2f"), span(p99, "%.2f"), span(xb, "%.2f"), span(xa, "%.2f"))
		}
	}
	tw.Flush()
}

type namedResult struct {
	name string
	r    loadgen.Result
}

func phasesOf(p loadgen.Phases) []namedResult {
	return []namedResult{{"warm-up", p.Warmup}, {"steady", p.Steady}, {"burst", p.Burst}}
}

func findPhase(run []measured, target string, phase int) *loadgen.Result {
	for _, m := range run {
		if m.name == target {
			r := phasesOf(m.phases)[phase].r
			return &r
		}
	}
	return nil
}

func ratio(r loadgen.Result, ref *loadgen.Phases, phase string) string {
	if ref == nil {
		return "-"
	}
	for _, ph := range phasesOf(*ref) {
		if ph.name == phase && ph.r.AlertsPerSecond() > 0 {
			return fmt.Sprintf("%.2f", r.AlertsPerSecond()/ph.r.AlertsPerSecond())
		}
	}
	return "-"
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func span(v []float64, format string) string {
	if len(v) == 0 {
		return "-"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	return fmt.Sprintf(format+"-"+format, lo, hi)
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes:
// how much else was running, which the figures depend on.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// serveBare serves the bare handler on addr until a signal: the process
// -compare starts as its bare target.
func serveBare(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serving the bare handler: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(http.ResponseWriter, *http.Request) {})
	mux.Handle("/", loadgen.BareHandler())
	srv := &http.Server{Handler: mux}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the bare handler: %w", err)
	}
	return nil
}
