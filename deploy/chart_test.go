package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// manifest is one object of a rendered chart, decoded and as printed.
type manifest struct {
	obj map[string]any
	raw string
}

func (m manifest) kind() string { s, _ := m.obj["kind"].(string); return s }

// get walks a path of map keys and list indexes (as strings) into obj.
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

type chart struct {
	t    *testing.T
	helm string
	dir  string
}

func newChart(t *testing.T) *chart {
	t.Helper()
	// helm is built from source by .ci/run (go install helm.sh/helm/v3/cmd/helm),
	// and named by RUNBOT_HELM, or found on PATH.
	return &chart{t: t, helm: requireTool(t, "RUNBOT_HELM", "helm"), dir: filepath.Join(repoRoot(t), "deploy", "helm", "runbot")}
}

func (c *chart) env() []string {
	// A home of its own: helm keeps caches and repositories there.
	home := c.t.TempDir()
	return append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
}

func setArgs(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

func (c *chart) lint(set ...string) {
	c.t.Helper()
	run(c.t, c.env(), c.helm, append([]string{"lint", "--strict", c.dir}, setArgs(set)...)...)
}

// render runs helm template and validates what it printed against the
// Kubernetes schemas.
func (c *chart) render(set ...string) []manifest {
	c.t.Helper()
	out := run(c.t, c.env(), c.helm, append([]string{"template", "rb", c.dir, "--namespace", "ops"}, setArgs(set)...)...)
	validateManifests(c.t, out)
	var ms []manifest
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			c.t.Fatalf("decoding a rendered object: %v\n%s", err, doc)
		}
		if obj != nil {
			ms = append(ms, manifest{obj: obj, raw: doc})
		}
	}
	return ms
}

func (c *chart) renderFails(set ...string) string {
	c.t.Helper()
	out, err := runErr(c.env(), c.helm, append([]string{"template", "rb", c.dir}, setArgs(set)...)...)
	if err == nil {
		c.t.Fatalf("helm template %v rendered; want it refused", set)
	}
	return out
}

// validateManifests checks every object two ways, each a subtest that is
// skipped (or fails under CI=true) alone when its tool is missing:
//
//   - against the OpenAPI schemas of Kubernetes (the kubernetes-models npm
//     package) and of prometheus-operator's CRDs for the ServiceMonitor
//     and the PrometheusRule (@kubernetes-models/prometheus-operator),
//     through deploy/kubeschema/validate.mjs: types, required fields,
//     enums, formats. kubeconform reads the same schemas as JSON files
//     fetched from GitHub, which the test machines cannot reach; these
//     come from the npm registry, installed by .ci/run (npm ci);
//   - strictly, by decoding the built-in kinds into k8s.io/api's Go types
//     with deploy/kubestrict (RUNBOT_KUBESTRICT, built by .ci/run): an
//     unknown or misspelt field, which the schemas allow, is an error.
func validateManifests(t *testing.T, rendered string) {
	t.Helper()
	t.Run("schemas", func(t *testing.T) {
		node := requireTool(t, "", "node")
		dir := filepath.Join(repoRoot(t), "deploy", "kubeschema")
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "kubernetes-models")); err != nil {
			missing(t, "deploy/kubeschema's packages are not installed (npm ci --prefix deploy/kubeschema)")
		}
		checkWith(t, rendered, node, filepath.Join(dir, "validate.mjs"))
	})
	t.Run("strict", func(t *testing.T) {
		// go build -C deploy/kubestrict -o kubestrict .
		checkWith(t, rendered, requireTool(t, "RUNBOT_KUBESTRICT", "kubestrict"))
	})
}

func checkWith(t *testing.T, rendered, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(rendered)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the rendered manifests do not validate: %v\n%s", err, out.String())
	}
	t.Logf("%s", strings.TrimSpace(out.String()))
}

func byKind(ms []manifest, kind string) []manifest {
	var out []manifest
	for _, m := range ms {
		if m.kind() == kind {
			out = append(out, m)
		}
	}
	return out
}

func one(t *testing.T, ms []manifest, kind string) manifest {
	t.Helper()
	got := byKind(ms, kind)
	if len(got) != 1 {
		t.Fatalf("rendered %d %s objects, want 1", len(got), kind)
	}
	return got[0]
}

// env lists the container's environment by name: a value, or
// "secret:NAME/KEY" for one read from a Secret.
func containerEnv(dep manifest) map[string]string {
	env := map[string]string{}
	list, _ := get(dep.obj, "spec", "template", "spec", "containers", "0", "env").([]any)
	for _, e := range list {
		name, _ := get(e, "name").(string)
		if v, ok := get(e, "value").(string); ok {
			env[name] = v
		} else if s, ok := get(e, "valueFrom", "secretKeyRef", "name").(string); ok {
			env[name] = "secret:" + s + "/" + get(e, "valueFrom", "secretKeyRef", "key").(string)
		}
	}
	return env
}

// fakeSecrets sets every secret the chart takes to a value that must show
// up in a Secret and nowhere else.
var fakeSecretKeys = []string{"intakeToken", "slackBotToken", "slackAppToken", "slackSigningSecret",
	"mattermostToken", "mattermostCommandTokens", "oidcClientSecret", "llmApiKey"}

func fakeSecrets() (set []string, values []string) {
	for _, k := range fakeSecretKeys {
		v := "fake-" + strings.ToLower(k) + "-5e3c1a9f"
		set = append(set, "secrets."+k+"="+v)
		values = append(values, v)
	}
	return set, values
}

// secretsOnlyInSecrets fails when a secret value appears in an object that
// is not a Secret, or in no Secret at all.
func secretsOnlyInSecrets(t *testing.T, ms []manifest, values []string) {
	t.Helper()
	for _, v := range values {
		inSecret := false
		for _, m := range ms {
			if !strings.Contains(m.raw, v) {
				continue
			}
			if m.kind() != "Secret" {
				t.Errorf("the secret %q appears in %s %v", v, m.kind(), get(m.obj, "metadata", "name"))
			} else {
				inSecret = true
			}
		}
		if !inSecret {
			t.Errorf("the secret %q is in no Secret", v)
		}
	}
}

// checkPod asserts what both modes share: the security context, the probes
// and the config file.
func checkPod(t *testing.T, ms []manifest) {
	t.Helper()
	dep := one(t, ms, "Deployment")
	pod := get(dep.obj, "spec", "template", "spec")
	c := get(pod, "containers", "0")
	for path, want := range map[string]any{
		"securityContext.runAsNonRoot":                          true,
		"securityContext.runAsUser":                             65532,
		"securityContext.seccompProfile.type":                   "RuntimeDefault",
		"automountServiceAccountToken":                          false,
		"containers.0.securityContext.readOnlyRootFilesystem":   true,
		"containers.0.securityContext.allowPrivilegeEscalation": false,
		"containers.0.securityContext.capabilities.drop.0":      "ALL",
		"containers.0.livenessProbe.httpGet.path":               "/livez",
		"containers.0.readinessProbe.httpGet.path":              "/readyz",
		"containers.0.ports.0.containerPort":                    8080,
	} {
		if got := get(pod, strings.Split(path, ".")...); got != want {
			t.Errorf("pod spec %s = %v, want %v", path, got, want)
		}
	}
	if get(c, "resources", "requests") == nil || get(c, "resources", "limits", "memory") == nil {
		t.Errorf("the container has no resources: %v", get(c, "resources"))
	}
	env := containerEnv(dep)
	if env["RUNBOT_CONFIG"] != "/etc/runbot/runbot.yaml" || env["RUNBOT_LISTEN"] != "0.0.0.0:8080" {
		t.Errorf("the container's environment is %v, want RUNBOT_CONFIG at the ConfigMap's file and RUNBOT_LISTEN 0.0.0.0:8080", env)
	}
	// A stopping pod answers, not ready, while Services let it go, then
	// needs 15 s more to drain and finish a chat message.
	if env["RUNBOT_SHUTDOWN_DELAY"] != "5s" {
		t.Errorf("RUNBOT_SHUTDOWN_DELAY is %q, want 5s", env["RUNBOT_SHUTDOWN_DELAY"])
	}
	if g, ok := get(pod, "terminationGracePeriodSeconds").(int); !ok || g < 5+15 {
		t.Errorf("terminationGracePeriodSeconds is %v, want at least the shutdown delay and 15 s", get(pod, "terminationGracePeriodSeconds"))
	}
	cm := one(t, ms, "ConfigMap")
	if _, ok := get(cm.obj, "data", "runbot.yaml").(string); !ok {
		t.Errorf("the ConfigMap has no runbot.yaml: %v", cm.obj["data"])
	}
}

func TestChartSQLiteMode(t *testing.T) {
	c := newChart(t)
	set, secrets := fakeSecrets()
	set = append(set, "config.slack_channel=#incidents", "config.timezone=Europe/Paris")
	c.lint(set...)
	ms := c.render(set...)
	checkPod(t, ms)
	secretsOnlyInSecrets(t, ms, secrets)

	dep := one(t, ms, "Deployment")
	if r := get(dep.obj, "spec", "replicas"); r != 1 {
		t.Errorf("SQLite mode runs %v replicas, want 1", r)
	}
	if s := get(dep.obj, "spec", "strategy", "type"); s != "Recreate" {
		t.Errorf("SQLite mode's strategy is %v, want Recreate: the old pod must let go of the database first", s)
	}
	pvc := one(t, ms, "PersistentVolumeClaim")
	vols, _ := get(dep.obj, "spec", "template", "spec", "volumes").([]any)
	mounted := false
	for _, v := range vols {
		if get(v, "name") == "data" && get(v, "persistentVolumeClaim", "claimName") == get(pvc.obj, "metadata", "name") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("the claim %v is not the pod's data volume: %v", get(pvc.obj, "metadata", "name"), vols)
	}
	if env := containerEnv(dep); env["RUNBOT_DB"] != "/data/runbot.db" {
		t.Errorf("RUNBOT_DB is %q, want /data/runbot.db on the claim", env["RUNBOT_DB"])
	}
	if pdb := byKind(ms, "PodDisruptionBudget"); len(pdb) != 0 {
		t.Errorf("SQLite mode has a PodDisruptionBudget: one replica cannot keep any up during a drain")
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "Ingress"} {
		if len(byKind(ms, kind)) != 0 {
			t.Errorf("a %s is rendered without being asked for", kind)
		}
	}
	one(t, ms, "Service")
	if cfg := get(one(t, ms, "ConfigMap").obj, "data", "runbot.yaml").(string); !strings.Contains(cfg, "timezone: Europe/Paris") {
		t.Errorf("runbot.yaml does not carry config's settings:\n%s", cfg)
	}
}

func TestChartPostgresMode(t *testing.T) {
	c := newChart(t)
	set := []string{"postgres.enabled=true", "replicaCount=3", "postgres.existingSecret=runbot-db",
		"secrets.existingSecret=runbot-tokens", "serviceMonitor.enabled=true", "prometheusRule.enabled=true",
		"ingress.enabled=true", "ingress.className=nginx"}
	c.lint(set...)
	ms := c.render(set...)
	checkPod(t, ms)

	dep := one(t, ms, "Deployment")
	if r := get(dep.obj, "spec", "replicas"); r != 3 {
		t.Errorf("replicas = %v, want 3", r)
	}
	if s := get(dep.obj, "spec", "strategy", "type"); s != "RollingUpdate" {
		t.Errorf("PostgreSQL mode's strategy is %v, want RollingUpdate", s)
	}
	if u := get(dep.obj, "spec", "strategy", "rollingUpdate", "maxUnavailable"); u != 0 {
		t.Errorf("maxUnavailable = %v, want 0: a rollout must keep every replica answering", u)
	}
	pdb := one(t, ms, "PodDisruptionBudget")
	if get(pdb.obj, "spec", "minAvailable") != 1 {
		t.Errorf("the PodDisruptionBudget keeps %v up, want 1", get(pdb.obj, "spec", "minAvailable"))
	}
	sel := get(pdb.obj, "spec", "selector", "matchLabels").(map[string]any)
	labels := get(dep.obj, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("the PodDisruptionBudget selects %s=%v, which the pods do not carry (%v)", k, v, labels)
		}
	}
	if len(byKind(ms, "PersistentVolumeClaim")) != 0 {
		t.Errorf("PostgreSQL mode claims a volume: the database is elsewhere")
	}
	if len(byKind(ms, "Secret")) != 0 {
		t.Errorf("with existing Secrets the chart creates one of its own")
	}
	env := containerEnv(dep)
	if env["RUNBOT_DB"] != "secret:runbot-db/RUNBOT_DB" {
		t.Errorf("RUNBOT_DB is %q, want it from the Secret runbot-db", env["RUNBOT_DB"])
	}
	if from := get(dep.obj, "spec", "template", "spec", "containers", "0", "envFrom", "0", "secretRef", "name"); from != "runbot-tokens" {
		t.Errorf("the tokens come from %v, want the Secret runbot-tokens", from)
	}
	sm := one(t, ms, "ServiceMonitor")
	if get(sm.obj, "spec", "endpoints", "0", "path") != "/metrics" || get(sm.obj, "spec", "endpoints", "0", "port") != "http" {
		t.Errorf("the ServiceMonitor scrapes %v", get(sm.obj, "spec", "endpoints"))
	}
	rule := one(t, ms, "PrometheusRule")
	if !strings.Contains(rule.raw, "RunbotOutboxStuck") {
		t.Errorf("the PrometheusRule lacks the rules file's alerts:\n%s", rule.raw)
	}
	one(t, ms, "Ingress")

	// A URL given in the values goes to the chart's Secret, never in the clear.
	url := "postgres://runbot:fake-pg-password-77aa@db:5432/runbot"
	set, secrets := fakeSecrets()
	ms = c.render(append(set, "postgres.enabled=true", "replicaCount=2", "postgres.url="+url)...)
	secretsOnlyInSecrets(t, ms, append(secrets, "fake-pg-password-77aa"))
	secret := one(t, ms, "Secret")
	if env := containerEnv(one(t, ms, "Deployment")); env["RUNBOT_DB"] != "secret:"+get(secret.obj, "metadata", "name").(string)+"/RUNBOT_DB" {
		t.Errorf("RUNBOT_DB is %q, want it from the chart's Secret", env["RUNBOT_DB"])
	}
}

// TestChartRefusesWhatCannotWork checks the chart's own checks: several
// replicas on one SQLite file, and secrets written into the ConfigMap.
func TestChartRefusesWhatCannotWork(t *testing.T) {
	c := newChart(t)
	for set, want := range map[string]string{
		"replicaCount=2":                "replicaCount must be 1 with SQLite",
		"postgres.enabled=true":         "postgres.enabled needs postgres.url or postgres.existingSecret",
		"config.slack_bot_token=xoxb-1": "config.slack_bot_token is set by the chart or is a secret",
		"config.llm.api_key=sk-1":       "config.llm.api_key is a secret",
		"shutdownDelaySeconds=30":       "terminationGracePeriodSeconds must be at least shutdownDelaySeconds + 15 (45)",
	} {
		if out := c.renderFails(set); !strings.Contains(out, want) {
			t.Errorf("helm template --set %s said:\n%s\nwant %q", set, out, want)
		}
	}
}

// TestChartRulesAreTheRulesFile keeps the chart's copy of the alerting
// rules (a chart reads no file outside its directory) equal to the file
// Prometheus users load.
func TestChartRulesAreTheRulesFile(t *testing.T) {
	root := repoRoot(t)
	want, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "runbot-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "deploy", "helm", "runbot", "files", "runbot-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("deploy/helm/runbot/files/runbot-rules.yaml differs from deploy/prometheus/runbot-rules.yaml: copy the latter over the former")
	}
}

// TestChartValuesAreDocumented keeps a comment above every value in
// values.yaml, which the chart's README points readers to.
func TestChartValuesAreDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "helm", "runbot", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			documented := k.HeadComment != "" || (i == 0 && n.HeadComment != "")
			// A map whose keys are each documented needs no comment of its own.
			if !documented && v.Kind != yaml.MappingNode {
				t.Errorf("values.yaml: %s has no comment", p)
			}
			if !slices.Contains([]string{"resources", "podSecurityContext", "securityContext"}, p) {
				walk(v, p)
			}
		}
	}
	walk(doc.Content[0], "")
}
