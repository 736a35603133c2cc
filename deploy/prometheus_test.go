package deploy

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestPrometheusRules checks the rules file with promtool and runs its unit
// tests (runbot-rules.test.yaml): each alert fires on synthetic series of
// the failure it is about, and not on healthy ones.
func TestPrometheusRules(t *testing.T) {
	promtool := requireTool(t, "", "promtool")
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "runbot-rules.yaml"},
		{"test", "rules", "runbot-rules.test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestRulesAndDashboardNameRunbotMetrics fails on a metric name in the rules
// or the dashboard that runbot does not expose: a misspelt name is a rule
// that never fires and a panel that stays empty. The names come from a
// runbot started on loopback (its /metrics after an alert and a refused
// request), and, for the series that exist only on PostgreSQL (the
// leases), from the names registered in runbot's code.
func TestRulesAndDashboardNameRunbotMetrics(t *testing.T) {
	root := repoRoot(t)
	exposed := scrapeRunbot(t)
	registered := registeredNames(t, root)
	used := map[string][]string{} // metric -> where
	for where, exprs := range map[string][]string{
		"deploy/prometheus/runbot-rules.yaml":  ruleExprs(t, filepath.Join(root, "deploy", "prometheus", "runbot-rules.yaml")),
		"deploy/grafana/runbot-dashboard.json": dashboardExprs(t, filepath.Join(root, "deploy", "grafana", "runbot-dashboard.json")),
	} {
		if len(exprs) == 0 {
			t.Fatalf("%s has no expressions", where)
		}
		for _, e := range exprs {
			for _, name := range metricNames(e) {
				used[name] = append(used[name], where)
			}
		}
	}
	for name, where := range used {
		base := histogramBase(name, exposed)
		switch {
		case name == "up": // Prometheus's own, for every target
		case exposed[base]:
		case registered[base] && strings.HasPrefix(base, "runbot_"):
			t.Logf("%s: registered in the code, no series in this run (PostgreSQL's leases, chat deliveries)", name)
		default:
			t.Errorf("%s (in %v) is not a metric runbot exposes", name, slices.Compact(where))
		}
	}
	for _, want := range []string{"runbot_outbox_stuck", "runbot_alerts_received_total", "runbot_lease_changes_total", "go_goroutines"} {
		if used[want] == nil {
			t.Errorf("neither the rules nor the dashboard use %s", want)
		}
	}
}

// histogramBase strips a histogram's series suffix when the base is the
// exposed family.
func histogramBase(name string, exposed map[string]bool) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok && exposed[b] {
			return b
		}
	}
	return name
}

// metricNames picks the metric names out of a PromQL expression: runbot's,
// Go's and the process's, and up.
func metricNames(expr string) []string {
	// Label values and Grafana's variables are not names.
	expr = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(expr, `""`)
	var out []string
	for _, m := range regexp.MustCompile(`\b(runbot_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+|up)\b`).FindAllString(expr, -1) {
		out = append(out, m)
	}
	return out
}

func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

// dashboardExprs returns every expr in the dashboard, its template
// variables' queries included.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// registeredNames are the metric names runbot's code registers.
func registeredNames(t *testing.T, root string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	re := regexp.MustCompile(`(?:Name:\s*|NewDesc\()"(runbot_[a-z0-9_]+)"`)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !names["runbot_lease_held"] || !names["runbot_outbox_stuck"] {
		t.Fatalf("found %v registered in the code; the pattern no longer finds runbot's registrations", names)
	}
	return names
}

// scrapeRunbot starts a runbot on loopback, gives it an alert, a request
// to refuse and an acknowledgement (so that the counters by reason and the
// TTA histogram have a series), and returns the metric families of its
// /metrics.
func scrapeRunbot(t *testing.T) map[string]bool {
	t.Helper()
	bin := buildRunbot(t)
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(bin, "--db", filepath.Join(dir, "runbot.db"), "--listen", hostPort(port))
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	base := "http://" + hostPort(port)
	waitReady(t, base, logs.String)
	for _, req := range []struct {
		path, body string
		want       int
	}{
		{"/api/v1/alerts/generic", `{"service": "billing", "summary": "invoice export stalled"}`, http.StatusOK},
		{"/api/v1/alerts/generic", `{"service": "billing"}`, http.StatusBadRequest},
		{"/api/v1/commands", `{"text": "/ack 1", "user": "alice"}`, http.StatusOK},
	} {
		resp, err := http.Post(base+req.path, "application/json", strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != req.want {
			t.Fatalf("posting %s to %s: %d, want %d", req.body, req.path, resp.StatusCode, req.want)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(b), -1) {
		exposed[m[1]] = true
	}
	if !exposed["runbot_alerts_received_total"] || !exposed["runbot_intake_rejected_total"] || !exposed["runbot_incident_tta_seconds"] {
		t.Fatalf("runbot's /metrics lacks its intake counters or the TTA:\n%s", b)
	}
	return exposed
}

// TestDashboardUsesTheDatasourceVariable keeps the dashboard importable
// into any Grafana: every panel and query reads the Prometheus chosen in
// ${DS_PROMETHEUS}, never a datasource of the machine it was made on.
func TestDashboardUsesTheDatasourceVariable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "runbot-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name, Type string
				Query      any
			}
		}
		Panels []struct {
			Title, Type string
			Datasource  *struct{ Type, UID string }
			Targets     []struct {
				Expr       string
				Datasource *struct{ Type, UID string }
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	hasVar := false
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus" {
			hasVar = true
		}
	}
	if !hasVar {
		t.Error("the dashboard has no DS_PROMETHEUS datasource variable")
	}
	panels := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q reads datasource %+v, want ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != "${DS_PROMETHEUS}" || q.Expr == "" {
				t.Errorf("panel %q has a query %+v not on ${DS_PROMETHEUS}", p.Title, q)
			}
		}
	}
	if panels < 10 {
		t.Errorf("the dashboard has %d panels", panels)
	}
}

// TestRulesSayWhatToDo keeps every alert actionable: a severity the
// routing knows, a summary and a description, and a runbook_url pointing
// at a section of the README that exists.
func TestRulesSayWhatToDo(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "runbot-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(readme), -1) {
		// GitHub's anchors: lower case, spaces to dashes, punctuation dropped.
		slug := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(m[1])), " ", "-")
		anchors[regexp.MustCompile(`[^a-z0-9_-]`).ReplaceAllString(slug, "")] = true
	}
	const prefix = "https://github.com/runbot-dev/runbot/blob/main/README.md#"
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], prefix)
			if !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not a section of the README", r.Alert, r.Annotations["runbook_url"])
			}
		}
	}
	if n < 6 {
		t.Errorf("the rules file has %d alerts", n)
	}
}
