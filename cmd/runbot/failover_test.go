package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
	"github.com/runbot-dev/runbot/incidents"
)

// The failover test's shape. The SLA is short so that reminders and
// breaches fall due during the test: an incident nobody touches gets its
// TTA reminder at 3 s, its TTA breach and TRS reminder at 6 s and its TRS
// breach at 12 s.
const (
	foReplicas = 3
	foClients  = 32
	foRounds   = 5
	foHot      = 6  // fingerprints every client repeats, across replicas and rounds
	foPerFP    = 40 // a client's requests per fingerprint of its own before a new one
	// foTakeover is the bound: another replica delivers within 20 s
	// of the kill.
	foTakeover = 20 * time.Second
	// foSettle bounds how long a check waits for what the new holder has
	// to catch up on: the backlog of the pause, and deadlines fired late.
	// It is a bound on "delivered at all", not on speed (the takeover has
	// its own): CI runs other packages' tests beside this one, and a
	// backlog of a hundred roots at Slack's pace took more than 20 s there.
	foSettle = 60 * time.Second
	foConfig = `members: [alice, bob]
sla:
  P2: {ack: 6s, restore: 12s}
  P3: {ack: 8s, restore: 16s}
reminders: {ack: [50], restore: [50]}
morning_check: {off: true}
# One incident per Alertmanager fingerprint: the clients' alerts share their labels.
grouping: {identity: fingerprint}
`
)

// The thread messages every untouched incident gets, with their due
// times after its opening, as the policy above makes them.
var foDue = []struct {
	text string
	due  time.Duration
}{
	{"not acknowledged after", 3 * time.Second},
	{"TTA breached", 6 * time.Second},
	{"(50% of the P2 TRS target", 6 * time.Second},
	{"TRS breached", 12 * time.Second},
}

// TestFailoverAcrossThreeReplicas runs three runbot processes on one
// PostgreSQL database and one fake Slack, feeds them Alertmanager alerts
// from 32 clients round-robin and slash commands through each in turn,
// and five times SIGKILLs the replica that holds the Slack channel's
// outbox lane, restarting it once another has taken over: at a random
// moment in rounds 1, 3 and 5, and in rounds 2 and 4 once Slack has taken
// the holder's next root (2) or reply (4) and before the holder hears so.
// After each round: every alert answered 2xx is stored, each incident has
// one root in Slack, each reminder due was delivered once, each thread
// tells its incident's events once each and in their order, and another
// replica delivered within 20 s of the kill. The takeover times are
// logged.
func TestFailoverAcrossThreeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test skipped in -short mode")
	}
	if raceDetector {
		// Its runbots are processes built without the race detector: the
		// plain run has checked all this run could, in two minutes.
		t.Skip("failover test runs in the plain run: its replicas are processes built without the race detector")
	}
	db := cluster.DB(t)
	bin := buildRunbot(t)
	f := newFailover(t, bin, db)
	for slot := range foReplicas {
		f.start(slot)
	}
	f.fake.DeliverTo(f.url(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if challenge, err := f.fake.VerifyURL(ctx); err != nil || challenge == "" {
		t.Fatalf("url_verification: %q %v", challenge, err)
	}

	var load sync.WaitGroup
	for w := range foClients {
		load.Go(func() { f.client(ctx, w) })
	}
	load.Go(func() { f.commander(ctx) })
	stopLoad := func() {
		cancel()
		load.Wait()
	}
	defer stopLoad()

	var takeovers []time.Duration
	for round := 1; round <= foRounds; round++ {
		// A random moment, after the restarted replica has joined in. In
		// rounds 2 and 4 the moment is the worst one: the holder's post
		// reached Slack and its answer has not reached the holder.
		time.Sleep(time.Duration(1500+rand.IntN(2500)) * time.Millisecond)
		slot, how := f.holder(ctx)
		var trapped string
		if round%2 == 0 {
			trapped = f.trapNext(slot, round == 4)
		}
		_, term, _ := f.laneTerm(ctx)
		killed := f.kill(slot)
		took, by, ok := f.takeover(killed, foTakeover+5*time.Second)
		termNote := ""
		if at, next, ok := f.termChange(ctx, term, killed); ok {
			termNote = fmt.Sprintf(" (the lane's lease went to term %d %s after the kill)", next, at.Round(time.Millisecond))
		}
		switch {
		case !ok:
			t.Errorf("round %d: no other replica delivered to Slack within %s of killing process %d (holder by %s)",
				round, foTakeover+5*time.Second, killed.proc, how)
		case took > foTakeover:
			t.Errorf("round %d: takeover took %s, more than %s", round, took.Round(time.Millisecond), foTakeover)
		}
		resumed := "nobody delivered since"
		if ok {
			takeovers = append(takeovers, took)
			resumed = fmt.Sprintf("process %d delivered %s later", by, took.Round(time.Millisecond))
		}
		t.Logf("round %d: killed process %d (slot %d, the lane's holder by %s%s) at %s; %s%s",
			round, killed.proc, slot, how, trapped, killed.at.Format("15:04:05.000"), resumed, termNote)
		f.start(slot)
		f.check(fmt.Sprintf("round %d", round), killed.at)
		if t.Failed() {
			f.dumpLogs()
			t.FailNow()
		}
	}
	stopLoad()
	// After the load, everything due so far is delivered once.
	f.check("after the load", time.Now())
	if t.Failed() {
		f.dumpLogs()
	}
	t.Logf("takeover times: %v; %d incidents, %d Slack messages, %d alerts answered 2xx, %d commands answered",
		takeovers, f.incidentCount(), len(f.fake.Messages()), f.ackedTotal(), f.commands.Load())
}

// failover is the test's world: the replicas, the fake Slack and the
// proxy in front of it that tells which process made each call, and what
// the clients were answered.
type failover struct {
	t       *testing.T
	bin, db string
	cfgPath string
	dir     string
	fake    *fakeslack.Server
	channel string
	alice   string
	proxy   *slackProxy

	mu    sync.Mutex
	slots [foReplicas]*replica
	procs int // processes started, which numbers them

	acked     sync.Map // fingerprint -> *atomic.Int64: answers 2xx
	services  sync.Map // service -> true
	commanded sync.Map // incident id -> true: touched by commands
	cmdIDs    chan opened
	commands  atomic.Int64
}

// replica is one runbot process.
type replica struct {
	n    int // its number, in the proxy's paths and the logs
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed once it has exited and its log is written
}

func newFailover(t *testing.T, bin, db string) *failover {
	f := &failover{t: t, bin: bin, db: db, dir: t.TempDir(), cmdIDs: make(chan opened, 4096)}
	// Slack's pace would make the backlog of a takeover take minutes;
	// runbot's own per-channel rate is raised to match.
	f.fake = fakeslack.New(fakeslack.Options{BotToken: "xoxb-failover", SigningSecret: "failover-secret", Rate: 1000, Burst: 1000})
	t.Cleanup(f.fake.Close)
	f.channel = f.fake.AddChannel("incidents")
	f.alice = f.fake.AddUser("alice", "Alice")
	f.proxy = newSlackProxy(f.fake.APIURL())
	t.Cleanup(f.proxy.close)
	f.cfgPath = filepath.Join(f.dir, "runbot.yaml")
	if err := os.WriteFile(f.cfgPath, []byte(foConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, r := range f.slots {
			if r != nil {
				r.cmd.Process.Kill()
				<-r.done
			}
		}
	})
	return f
}

// start runs a new runbot process in a slot. Its Slack calls go through
// the proxy under its number.
func (f *failover) start(slot int) {
	t := f.t
	t.Helper()
	f.mu.Lock()
	f.procs++
	n := f.procs
	f.mu.Unlock()
	cmd := exec.Command(f.bin)
	cmd.Env = append(os.Environ(),
		"RUNBOT_DB="+f.db, "RUNBOT_LISTEN=127.0.0.1:0", "RUNBOT_LOG_FORMAT=json", "RUNBOT_CONFIG="+f.cfgPath,
		"RUNBOT_RUN_PERSON=rita",
		"RUNBOT_SLACK_BOT_TOKEN=xoxb-failover", "RUNBOT_SLACK_SIGNING_SECRET=failover-secret",
		"RUNBOT_SLACK_API_URL="+f.proxy.urlFor(n), "RUNBOT_SLACK_CHANNEL=incidents",
		"RUNBOT_CHANNEL_RATE=100", "RUNBOT_CHANNEL_BURST=100",
		// Storm control would fold the incidents into one thread: this is
		// about one root per incident.
		"RUNBOT_STORM_INCIDENTS=0",
	)
	// A test binary killed by its timeout takes its replicas along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logPath := filepath.Join(f.dir, fmt.Sprintf("runbot-%d.log", n))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The log goes to a file and through a pipe read for the address.
	// Wait returns once exec has copied all of it: the reader then sees
	// the pipe's end, and the file is whole.
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(logFile, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{n: n, cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "runbot is up" {
				select {
				case addr <- line.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		logFile.Close()
		close(r.done)
	}()
	select {
	case a := <-addr:
		r.url = "http://" + a
	case <-r.done:
		t.Fatalf("runbot process %d exited while starting:\n%s", n, logTail(logPath, 40))
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-r.done
		t.Fatalf("runbot process %d did not start within 20s:\n%s", n, logTail(logPath, 40))
	}
	f.mu.Lock()
	f.slots[slot] = r
	f.mu.Unlock()
}

// kill is a replica's death: SIGKILL, no goodbye.
type kill struct {
	proc int
	at   time.Time
}

func (f *failover) kill(slot int) kill {
	f.mu.Lock()
	r := f.slots[slot]
	f.slots[slot] = nil
	f.mu.Unlock()
	at := time.Now()
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	f.proxy.disarm()
	return kill{proc: r.n, at: at}
}

// url is a slot's replica's address, "" while it is down.
func (f *failover) url(slot int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.slots[slot]; r != nil {
		return r.url
	}
	return ""
}

func (f *failover) procOf(slot int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.slots[slot]; r != nil {
		return r.n
	}
	return 0
}

// live is the address of a replica that is up, from slot i on.
func (f *failover) live(i int) (int, string) {
	for k := range foReplicas {
		slot := (i + k) % foReplicas
		if u := f.url(slot); u != "" {
			return slot, u
		}
	}
	return -1, ""
}

// laneLease is the lease of the Slack channel's outbox lane.
func laneLease(name string) bool { return strings.HasPrefix(name, "outbox:slack:") }

// holder finds the replica that holds the Slack channel's lane: the one
// whose /metrics says runbot_lease_held of the lane is 1; else the
// holder in the leases table (hostname/pid/random); else the one that
// delivered to Slack last. It waits up to 10 s for one to say so, as a
// lane nobody had to deliver on may be held by nobody yet.
func (f *failover) holder(ctx context.Context) (slot int, how string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if slot := f.holderByMetric(); slot >= 0 {
			return slot, "its metric"
		}
		if slot := f.holderByTable(ctx); slot >= 0 {
			return slot, "the leases table"
		}
		time.Sleep(100 * time.Millisecond)
	}
	if slot := f.holderByDelivery(); slot >= 0 {
		return slot, "its last delivery"
	}
	f.t.Fatal("no replica holds the Slack lane, by the metric, the leases table or a delivery")
	return -1, ""
}

func (f *failover) holderByMetric() int {
	for slot := range foReplicas {
		u := f.url(slot)
		if u == "" {
			continue
		}
		resp, err := http.Get(u + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		held := false
		for sc.Scan() {
			line := sc.Text()
			rest, ok := strings.CutPrefix(line, "runbot_lease_held{")
			if !ok {
				continue
			}
			labels, value, _ := strings.Cut(rest, "} ")
			if name := labelValue(labels, "name"); laneLease(name) && strings.TrimSpace(value) == "1" {
				held = true
			}
		}
		resp.Body.Close()
		if held {
			return slot
		}
	}
	return -1
}

// labelValue reads one label of a Prometheus text line's label set.
func labelValue(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == name {
			s, err := strconv.Unquote(strings.TrimSpace(v))
			if err == nil {
				return s
			}
		}
	}
	return ""
}

func (f *failover) holderByTable(ctx context.Context) int {
	holder, _, err := f.laneTerm(ctx)
	if err != nil || holder == "" {
		return -1
	}
	parts := strings.Split(holder, "/")
	if len(parts) < 2 {
		return -1
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return -1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for slot, r := range f.slots {
		if r != nil && r.cmd.Process.Pid == pid {
			return slot
		}
	}
	return -1
}

// laneTerm reads the Slack lane's lease from the leases table: its
// holder while it has not expired, and its term.
func (f *failover) laneTerm(ctx context.Context) (holder string, term int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.db)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT CASE WHEN expires_at > now() THEN holder ELSE '' END, term FROM leases
		WHERE name LIKE 'outbox:slack:%' ORDER BY term DESC LIMIT 1`).Scan(&holder, &term)
	return holder, term, err
}

// termChange finds when the lane's lease left term (its term at the
// kill), from its acquired_at: the database's clock, taken as the
// test's (one machine).
func (f *failover) termChange(ctx context.Context, term int64, k kill) (after time.Duration, next int64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.db)
	if err != nil {
		return 0, 0, false
	}
	defer conn.Close(ctx)
	var acquired time.Time
	err = conn.QueryRow(ctx, `SELECT term, acquired_at FROM leases WHERE name LIKE 'outbox:slack:%' ORDER BY term DESC LIMIT 1`).Scan(&next, &acquired)
	if err != nil || next <= term {
		return 0, 0, false
	}
	return acquired.Sub(k.at), next, true
}

func (f *failover) holderByDelivery() int {
	calls := f.proxy.snapshot()
	for i := len(calls) - 1; i >= 0; i-- {
		if c := calls[i]; c.delivery() {
			f.mu.Lock()
			defer f.mu.Unlock()
			for slot, r := range f.slots {
				if r != nil && r.n == c.proc {
					return slot
				}
			}
			return -1
		}
	}
	return -1
}

// trapNext makes the holder's next post (a reply when reply, else a
// root) the moment of its death: the proxy passes it to Slack, then holds
// the answer back until the holder is killed. It says, for the log, how
// the kill came, or that no such post came within 8 s (the kill is then
// at a random moment).
func (f *failover) trapNext(slot int, reply bool) string {
	hit := f.proxy.arm(f.procOf(slot), reply)
	kind := "root"
	if reply {
		kind = "reply"
	}
	select {
	case <-hit:
		return fmt.Sprintf(", while Slack's answer to its %s %q was held back", kind, shorten(f.proxy.trapped(), 80))
	case <-time.After(8 * time.Second):
		f.proxy.disarm()
		return fmt.Sprintf(", no %s posted within 8 s to trap", kind)
	}
}

// takeover waits for a process other than the killed one to deliver to
// Slack after the kill, and says how long after it did.
func (f *failover) takeover(k kill, within time.Duration) (time.Duration, int, bool) {
	deadline := k.at.Add(within)
	for time.Now().Before(deadline) {
		for _, c := range f.proxy.snapshot() {
			if c.delivery() && c.proc != k.proc && c.sent.After(k.at) {
				return c.at.Sub(k.at), c.proc, true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, 0, false
}

// client posts Alertmanager alerts round-robin to the replicas until ctx
// ends: every third a repeat of a hot fingerprint, the rest its own
// fingerprints, foPerFP repeats each.
func (f *failover) client(ctx context.Context, w int) {
	hc := &http.Client{Timeout: 10 * time.Second}
	// Clients start apart in their cycles, so that incidents open all the
	// time rather than 32 at once.
	own := w * foPerFP / foClients
	for i := 0; ctx.Err() == nil; i++ {
		var fp, service string
		first := false
		if i%3 == 0 {
			fp, service = fmt.Sprintf("fo-hot-%d", (w+i)%foHot), "fo-hot"
		} else {
			first = own%foPerFP == 0
			fp, service = fmt.Sprintf("fo-%d-%d", w, own/foPerFP), fmt.Sprintf("fo-c%d", w)
			own++
		}
		f.services.Store(service, true)
		_, base := f.live(w + i)
		if base == "" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/alerts/alertmanager", strings.NewReader(foAlert(service, fp)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				n, _ := f.acked.LoadOrStore(fp, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				var ans struct {
					IDs []int64 `json:"incident_ids"`
				}
				// A third of the clients' own incidents are handled by
				// commands; the others are left for the reminders.
				if first && (own/foPerFP)%3 == 0 && json.Unmarshal(body, &ans) == nil && len(ans.IDs) == 1 {
					f.commanded.Store(ans.IDs[0], true)
					select {
					case f.cmdIDs <- opened{ans.IDs[0], time.Now()}:
					default:
					}
				}
			}
		}
		time.Sleep(time.Duration(100+rand.IntN(100)) * time.Millisecond)
	}
}

func foAlert(service, fp string) string {
	return fmt.Sprintf(`{"receiver":"runbot","status":"firing","alerts":[{"status":"firing",`+
		`"labels":{"alertname":"FailoverCheck","service":%q,"severity":"critical"},`+
		`"annotations":{"summary":"[%s] serving orders: 502"},"startsAt":"2026-12-02T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",`+
		`"fingerprint":%q}]}`, service, service, fp)
}

// opened is an incident a client opened, and when it heard so.
type opened struct {
	id int64
	at time.Time
}

// commander acknowledges, requalifies and mitigates the incidents the
// clients hand it, 4 s after they opened (after the TTA reminder), each
// command through the next replica, as signed Slack slash commands.
func (f *failover) commander(ctx context.Context) {
	next := 0
	for {
		var inc opened
		select {
		case <-ctx.Done():
			return
		case inc = <-f.cmdIDs:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(inc.at.Add(4 * time.Second))):
		}
		id := inc.id
		for _, c := range []struct{ cmd, text string }{
			{"/ack", fmt.Sprint(id)},
			{"/prio", fmt.Sprintf("%d P3 failover check", id)},
			{"/mitigate", fmt.Sprint(id)},
		} {
			// A command lost with a killed replica is tried on the next:
			// Slack users retry too.
			for try := 0; try < foReplicas && ctx.Err() == nil; try++ {
				next++
				_, base := f.live(next)
				if base == "" {
					break
				}
				f.fake.DeliverTo(base)
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				a, err := f.fake.SlashCommand(cctx, f.alice, f.channel, c.cmd, c.text)
				cancel()
				if err == nil && a.Status == 200 {
					f.commands.Add(1)
					break
				}
			}
		}
	}
}

func (f *failover) ackedTotal() int64 {
	var n int64
	f.acked.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

// foIncident is what the checks read of an incident.
type foIncident struct {
	ID             int64      `json:"id"`
	Fingerprint    string     `json:"fingerprint"`
	Priority       string     `json:"priority"`
	State          string     `json:"state"`
	AlertCount     int        `json:"alert_count"`
	OpenedAt       time.Time  `json:"opened_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	MitigatedAt    *time.Time `json:"mitigated_at"`
	Timeline       []struct {
		At    time.Time `json:"at"`
		Kind  string    `json:"kind"`
		Actor string    `json:"actor"`
		Text  string    `json:"text"`
	} `json:"timeline"`
}

// told is the timeline without its alerts, one event a line.
func (inc foIncident) told() string {
	var b strings.Builder
	for _, e := range inc.Timeline {
		if e.Kind != "alert" {
			fmt.Fprintf(&b, "%s %s %s %s\n", e.At.Format("15:04:05.000000"), e.Kind, e.Actor, e.Text)
		}
	}
	return b.String()
}

// incidents reads every incident of the test's services from a live
// replica.
func (f *failover) incidents() []foIncident {
	var out []foIncident
	var services []string
	f.services.Range(func(k, _ any) bool { services = append(services, k.(string)); return true })
	slices.Sort(services)
	for _, s := range services {
		_, base := f.live(0)
		var list struct {
			Incidents []foIncident `json:"incidents"`
		}
		if code := call(f.t, "GET", base+"/api/v1/incidents?limit=1000&service="+url.QueryEscape(s), "", "", &list); code != 200 {
			f.t.Fatalf("listing the incidents of %s: %d", s, code)
		}
		if len(list.Incidents) == 1000 {
			f.t.Fatalf("service %s has 1000 incidents or more: the test cannot list them all", s)
		}
		out = append(out, list.Incidents...)
	}
	return out
}

func (f *failover) incidentCount() int { return len(f.incidents()) }

// withTimelines reads each incident again, timeline included.
func (f *failover) withTimelines(list []foIncident) []foIncident {
	out := make([]foIncident, len(list))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var failed atomic.Value
	for i, inc := range list {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, base := f.live(i)
			resp, err := http.Get(fmt.Sprintf("%s/api/v1/incidents/%d", base, inc.ID))
			if err != nil {
				failed.Store(err.Error())
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out[i]) != nil {
				failed.Store(fmt.Sprintf("reading incident %d: %d", inc.ID, resp.StatusCode))
			}
		})
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		f.t.Fatal(msg)
	}
	return out
}

// foThread is what Slack shows of an incident: its roots and the
// replies in their threads, in posting order.
type foThread struct {
	roots   int
	rootTS  string // the first root's
	replies []string
}

// threads reads the fake's channel: roots by the incident key in their
// metadata, replies by the root they answer.
func (f *failover) threads() map[int64]*foThread {
	out := map[int64]*foThread{}
	byTS := map[string]*foThread{}
	for _, m := range f.fake.Messages() {
		if m.Channel != f.channel || m.User != f.fake.BotUserID() {
			continue
		}
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			var meta struct {
				Payload struct {
					Key string `json:"key"`
				} `json:"event_payload"`
			}
			json.Unmarshal(m.Metadata, &meta)
			id, err := strconv.ParseInt(strings.TrimPrefix(meta.Payload.Key, "runbot-incident-"), 10, 64)
			if err != nil {
				continue
			}
			th := out[id]
			if th == nil {
				th = &foThread{rootTS: m.TS}
				out[id] = th
			}
			th.roots++
			byTS[m.TS] = th
			continue
		}
		if th := byTS[m.ThreadTS]; th != nil {
			th.replies = append(th.replies, m.Text)
		}
	}
	return out
}

// check verifies what the issue asks after a round; cutoff is when
// things were last known settled (the kill). What the new holder has to
// catch up on (the backlog of the pause, deadlines fired late) gets
// foSettle to arrive.
func (f *failover) check(label string, cutoff time.Time) {
	t := f.t
	t.Helper()
	start := time.Now()
	// Every alert answered 2xx is stored, each fingerprint in one
	// incident that counts at least its answered alerts. The answers are
	// read before the incidents: the clients go on posting.
	answered := map[string]int64{}
	f.acked.Range(func(k, v any) bool { answered[k.(string)] = v.(*atomic.Int64).Load(); return true })
	list := f.incidents()
	byFP := map[string][]foIncident{}
	for _, inc := range list {
		byFP[inc.Fingerprint] = append(byFP[inc.Fingerprint], inc)
	}
	lost := 0
	for fp, n := range answered {
		incs := byFP[fp]
		switch {
		case len(incs) == 0:
			if lost++; lost <= 10 {
				t.Errorf("%s: alert %s was answered 2xx %d times but is not stored", label, fp, n)
			}
		case len(incs) > 1:
			t.Errorf("%s: fingerprint %s has %d incidents: %s", label, fp, len(incs), describe(incs))
		case int64(incs[0].AlertCount) < n:
			// At least once: a request may commit and lose its answer in
			// a kill, never the other way round.
			t.Errorf("%s: incident #%d of %s counts %d alerts, but %d were answered 2xx", label, incs[0].ID, fp, incs[0].AlertCount, n)
		}
	}

	// Slack, against the incidents as stored, until nothing is missing
	// or foSettle has passed.
	var missing, broken, untold []string
	var told int
	for {
		missing, broken, untold, told = f.compare(list, cutoff)
		if len(missing) == 0 || time.Since(start) > foSettle {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, b := range first(broken, 10) {
		t.Errorf("%s: %s", label, b)
	}
	if len(missing) > 0 {
		t.Errorf("%s: not in Slack %s after the check began (%d):\n%s", label, foSettle, len(missing), strings.Join(first(missing, 10), "\n"))
	}
	t.Logf("%s: %d incidents, %d alerts answered 2xx, %d thread replies told their events, %d none %q; checked in %s",
		label, len(list), f.ackedTotal(), told, len(untold), first(untold, 3), time.Since(start).Round(time.Millisecond))
}

// compare reads Slack's channel and the incidents' timelines. missing is
// what should be in Slack by cutoff and is not (yet): a root, a reminder
// due; broken is what no wait will mend: a second root, an event told
// twice or out of its order. told counts the replies that told an event,
// untold are those that told none the test could find.
func (f *failover) compare(list []foIncident, cutoff time.Time) (missing, broken, untold []string, told int) {
	threads := f.threads()
	for _, inc := range f.withTimelines(list) {
		th := threads[inc.ID]
		if th == nil || th.roots == 0 {
			if inc.OpenedAt.Before(cutoff) {
				missing = append(missing, fmt.Sprintf("incident #%d's root", inc.ID))
			}
			continue
		}
		if th.roots > 1 {
			broken = append(broken, fmt.Sprintf("incident #%d has %d roots in Slack", inc.ID, th.roots))
		}
		// Every reminder and breach due by the policy, on an incident no
		// command touched.
		if _, ok := f.commanded.Load(inc.ID); !ok {
			for _, d := range foDue {
				if inc.OpenedAt.Add(d.due).Before(cutoff) && countContaining(th.replies, d.text) == 0 {
					missing = append(missing, fmt.Sprintf("incident #%d's %q, due at %s", inc.ID, d.text,
						inc.OpenedAt.Add(d.due).Format("15:04:05.000")))
				}
				// A deadline fired by two replicas is two events, each
				// told once: the matching below would not see it.
				fired := 0
				for _, e := range inc.Timeline {
					if (e.Kind == "reminder" || e.Kind == "breach") && strings.Contains(e.Text, d.text) {
						fired++
					}
				}
				if fired > 1 {
					broken = append(broken, fmt.Sprintf("incident #%d: %q fired %d times:\n%s", inc.ID, d.text, fired, inc.told()))
				}
			}
		}
		// Each reply tells an event of the timeline: at most once, in the
		// timeline's order.
		tells := make([]int, len(inc.Timeline))
		last := -1
		for _, reply := range th.replies {
			var cands []int
			for i, e := range inc.Timeline {
				// The actor is shown as bot.EventText shows it: never for
				// runbot itself nor for an alert's source.
				shown := e.Actor != "" && e.Actor != incidents.Actor && e.Kind != "alert" && e.Kind != "source_resolved"
				if e.Text != "" && strings.Contains(reply, slackText(e.Text)) && (!shown || strings.Contains(reply, "*"+e.Actor+"*")) {
					cands = append(cands, i)
				}
			}
			if len(cands) == 0 {
				untold = append(untold, reply)
				continue
			}
			// The first event not told yet after the last one told; else
			// the first not told; else it is told twice.
			pick := -1
			for _, i := range cands {
				if tells[i] == 0 && i > last {
					pick = i
					break
				}
			}
			if pick < 0 {
				for _, i := range cands {
					if tells[i] == 0 {
						pick = i
						break
					}
				}
			}
			if pick < 0 {
				broken = append(broken, fmt.Sprintf("incident #%d: %q is in its thread twice (%s):\n%s", inc.ID, reply,
					f.posters(reply, th.rootTS), strings.Join(th.replies, "\n")))
				continue
			}
			tells[pick]++
			told++
			if pick < last {
				broken = append(broken, fmt.Sprintf("incident #%d: %q comes after %q in its thread, but before it in the timeline:\n%s\ntimeline:\n%s",
					inc.ID, reply, inc.Timeline[last].Text, strings.Join(th.replies, "\n"), inc.told()))
			}
			last = max(last, pick)
		}
		for i, e := range inc.Timeline {
			if (e.Kind == "reminder" || e.Kind == "breach") && e.At.Before(cutoff) && tells[i] == 0 {
				missing = append(missing, fmt.Sprintf("incident #%d's %s %q of %s", inc.ID, e.Kind, e.Text, e.At.Format("15:04:05.000")))
			}
		}
	}
	return missing, broken, untold, told
}

// posters says who posted a text in a thread, and when.
func (f *failover) posters(text, thread string) string {
	var out []string
	for _, c := range f.proxy.snapshot() {
		if c.method == "chat.postMessage" && c.text == text && c.thread == thread {
			out = append(out, fmt.Sprintf("process %d at %s", c.proc, c.at.Format("15:04:05.000")))
		}
	}
	return "posted by " + strings.Join(out, ", ")
}

// slackText is an event's text as runbot's Slack rendering writes it.
func slackText(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return strings.ReplaceAll(s, "**", "*")
}

func countContaining(list []string, sub string) int {
	n := 0
	for _, s := range list {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func first(list []string, n int) []string { return list[:min(n, len(list))] }

// shorten cuts s to about n bytes, on a rune boundary.
func shorten(s string, n int) string {
	for i := range s {
		if i >= n {
			return s[:i] + "…"
		}
	}
	return s
}

// dumpLogs shows, after a failure, the end of each process's log, who
// called Slack lately, the leases and the outbox's oldest waiting
// messages.
func (f *failover) dumpLogs() {
	entries, _ := filepath.Glob(filepath.Join(f.dir, "runbot-*.log"))
	for _, p := range entries {
		f.t.Logf("%s:\n%s", filepath.Base(p), logTail(p, 15))
	}
	calls := map[string]int{}
	for _, c := range f.proxy.snapshot() {
		if time.Since(c.at) < 30*time.Second {
			calls[fmt.Sprintf("process %d %s ok=%v", c.proc, c.method, c.ok)]++
		}
	}
	f.t.Logf("Slack calls in the last 30 s: %v", calls)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.db)
	if err != nil {
		f.t.Logf("reading the database: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`SELECT name, holder, term, (expires_at - now())::text, (now() - acquired_at)::text FROM leases ORDER BY name`,
		`SELECT count(*), min(created_at) FROM outbox WHERE done_at IS NULL`,
		`SELECT id, platform, channel, kind, incident_id, event_id, created_at, not_before, attempts, last_error
			FROM outbox WHERE done_at IS NULL ORDER BY id LIMIT 8`,
	} {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			f.t.Logf("%s: %v", q, err)
			continue
		}
		var b strings.Builder
		for rows.Next() {
			vals, _ := rows.Values()
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		f.t.Logf("%s:\n%s", q, b.String())
	}
}

// logTail is the last n lines of a file.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// slackProxy stands between the replicas and the fake Slack: each
// process calls it under its own number, so that the test knows who
// delivered what and when. It can hold one answer back, to kill a
// replica between Slack taking a post and runbot recording it.
type slackProxy struct {
	target string // the fake's API URL, ending in /api/
	srv    *httptest.Server
	client *http.Client

	mu    sync.Mutex
	calls []slackCall
	trap  *proxyTrap
}

// slackCall is one Web API call a process made.
type slackCall struct {
	proc   int
	method string
	reply  bool      // a chat.postMessage in a thread
	text   string    // a chat.postMessage's text
	thread string    // and its thread_ts
	ok     bool      // Slack said ok
	sent   time.Time // when the proxy received it
	at     time.Time // when Slack answered it
}

// delivery tells a message posted or edited.
func (c slackCall) delivery() bool {
	return c.ok && (c.method == "chat.postMessage" || c.method == "chat.update")
}

type proxyTrap struct {
	proc  int
	reply bool
	hit   chan struct{}
	done  bool
	text  string // what was posted, once hit
}

func newSlackProxy(target string) *slackProxy {
	p := &slackProxy{target: target, client: &http.Client{Timeout: 30 * time.Second}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

func (p *slackProxy) urlFor(proc int) string { return fmt.Sprintf("%s/p%d/api/", p.srv.URL, proc) }

func (p *slackProxy) close() {
	p.disarm()
	p.srv.CloseClientConnections()
	p.srv.Close()
}

func (p *slackProxy) snapshot() []slackCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// arm sets the trap for proc's next post; the channel is closed when
// Slack took it.
func (p *slackProxy) arm(proc int, reply bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trap = &proxyTrap{proc: proc, reply: reply, hit: make(chan struct{})}
	return p.trap.hit
}

// trapped is the text of the post the trap caught.
func (p *slackProxy) trapped() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trap == nil {
		return ""
	}
	return p.trap.text
}

func (p *slackProxy) disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trap = nil
}

func (p *slackProxy) serve(w http.ResponseWriter, r *http.Request) {
	sent := time.Now()
	rest, ok := strings.CutPrefix(r.URL.Path, "/p")
	num, method, ok2 := strings.Cut(rest, "/api/")
	proc, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	target := p.target + method
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	// Not the request's context: Slack finishes what it took even when
	// the caller is gone.
	req, err := http.NewRequest(r.Method, target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for _, h := range []string{"Content-Type", "Authorization"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	form, _ := url.ParseQuery(string(body))
	c := slackCall{proc: proc, method: method, reply: form.Get("thread_ts") != "", sent: sent, at: time.Now()}
	if method == "chat.postMessage" {
		c.text, c.thread = form.Get("text"), form.Get("thread_ts")
	}
	var okAnswer struct {
		OK bool `json:"ok"`
	}
	c.ok = json.Unmarshal(answer, &okAnswer) == nil && okAnswer.OK
	p.mu.Lock()
	p.calls = append(p.calls, c)
	trap := p.trap
	caught := trap != nil && !trap.done && trap.proc == proc && c.ok && method == "chat.postMessage" && c.reply == trap.reply
	if caught {
		trap.done, trap.text = true, form.Get("text")
		close(trap.hit)
	}
	p.mu.Unlock()
	if caught {
		// Slack has the post; its sender dies before hearing so.
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}
