package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// The identities a Grouping can give labelled alerts.
const (
	// IdentityLabels, the default, makes one incident of one rule firing
	// on several targets: source, alertname, service and the scope labels
	// (ScopeLabels), never the labels that name one target (pod, instance,
	// container, node...), so the incident's label breakdown can name them.
	IdentityLabels = "labels"
	// IdentityFingerprint is the source's own identity of one label set
	// (Alertmanager's fingerprint): one incident per pod or instance.
	IdentityFingerprint = "fingerprint"
	// IdentityGroup is Alertmanager's groupKey: one incident per
	// notification group, as its route's group_by makes them. A route
	// without group_by puts every alert in one group.
	IdentityGroup = "group"
)

// defaultServiceLabels are the labels that name the service, in the order
// they are tried: the workload first, since with kube-prometheus-stack the
// service and job labels name the exporter that was scraped.
var defaultServiceLabels = []string{
	"app.kubernetes.io/name", "app", "k8s-app", "deployment", "statefulset", "daemonset",
	"cronjob", "job_name", "container", "service", "job",
}

// defaultExporters are scrape targets that report on other workloads:
// a label with one of these values names who measured, not what broke.
// A value matches with or without a release prefix
// (prometheus-kube-state-metrics is kube-state-metrics).
var defaultExporters = []string{
	"kube-state-metrics", "node-exporter", "prometheus-node-exporter", "blackbox-exporter", "blackbox",
	"prometheus", "alertmanager", "pushgateway", "cadvisor", "windows-exporter",
}

// scopeLabels are the labels that tell apart the same rule in two places
// that are two incidents: another namespace or cluster is another team's
// or customer's trouble, where another pod of one service is not.
var scopeLabels = []string{"namespace", "cluster", "environment", "env", "region", "tenant"}

// Grouping decides which labelled alerts are one incident and which label
// names their service. Every parser of labelled alerts uses it the same
// way (Alertmanager does; Grafana's parser should too):
//
//	g := alerts.DefaultGrouping() // or the configured one
//	a.Service = g.Service(labels)
//	a.Fingerprint = g.Identify(source, labels, a.Service, a.Operation, sourceFP, groupKey)
//
// The zero Grouping is the default one.
type Grouping struct {
	// Identity is IdentityLabels (""), IdentityFingerprint or IdentityGroup.
	Identity string
	// ServiceLabels are the labels that name the service, tried in order;
	// nil means the default list (workload labels before service and job).
	ServiceLabels []string
	// Rules say which labels make the identity of the alerts they match,
	// the first matching rule winning; alerts no rule matches get Identity.
	Rules []GroupingRule
}

// GroupingRule makes the identity of the alerts it matches from the
// source, alertname and the values of By.
type GroupingRule struct {
	Source string            // "" matches every source
	Match  map[string]string // label values all required; empty matches all
	By     []string          // the labels that make the identity
}

// DefaultServiceLabels is the list Service tries when ServiceLabels is
// nil, for documentation and configuration help.
func DefaultServiceLabels() []string { return slices.Clone(defaultServiceLabels) }

// DefaultGrouping is one incident per rule, service and scope.
func DefaultGrouping() Grouping { return Grouping{} }

// Check reports a Grouping that cannot work, naming what is wrong.
func (g Grouping) Check() error {
	switch g.Identity {
	case "", IdentityLabels, IdentityFingerprint, IdentityGroup:
	default:
		return fmt.Errorf("identity %q is not %s, %s or %s", g.Identity, IdentityLabels, IdentityFingerprint, IdentityGroup)
	}
	for i, r := range g.Rules {
		if len(r.By) == 0 {
			return fmt.Errorf("rule %d: by must name at least one label", i+1)
		}
	}
	return nil
}

// Service names the service of a labelled alert: the first of
// ServiceLabels whose value is not a known exporter, else the workload of
// its pod (user-sync-7d9f8b6c5-q8z1m is user-sync), else its namespace,
// else "unknown".
func (g Grouping) Service(labels map[string]string) string {
	list := g.ServiceLabels
	if list == nil {
		list = defaultServiceLabels
	}
	for _, k := range list {
		if v := strings.TrimSpace(labels[k]); v != "" && !isExporter(v) {
			return v
		}
	}
	if w := PodWorkload(labels["pod"]); w != "" && !isExporter(w) {
		return w
	}
	if ns := strings.TrimSpace(labels["namespace"]); ns != "" {
		return ns
	}
	return "unknown"
}

func isExporter(v string) bool {
	v = strings.ToLower(v)
	for _, e := range defaultExporters {
		if v == e || strings.HasSuffix(v, "-"+e) {
			return true
		}
	}
	return false
}

// PodWorkload is the workload a Kubernetes pod name was made from, "" for
// none: a Deployment's pod ends in its ReplicaSet's hash and five
// characters (user-sync-7d9f8b6c5-q8z1m), a DaemonSet's or Job's in five
// characters, a StatefulSet's in its ordinal (kafka-2).
func PodWorkload(pod string) string {
	pod = strings.TrimSpace(pod)
	parts := strings.Split(pod, "-")
	n := len(parts)
	if n < 2 {
		return ""
	}
	last := parts[n-1]
	switch {
	case n >= 3 && len(last) == 5 && isLowerAlnum(last) && len(parts[n-2]) >= 6 && len(parts[n-2]) <= 10 && isLowerAlnum(parts[n-2]) && hasDigit(parts[n-2]):
		return strings.Join(parts[:n-2], "-")
	case len(last) == 5 && isLowerAlnum(last):
		return strings.Join(parts[:n-1], "-")
	case last != "" && strings.Trim(last, "0123456789") == "":
		return strings.Join(parts[:n-1], "-")
	}
	return ""
}

func isLowerAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'z') {
			return false
		}
	}
	return s != ""
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// Identify is the fingerprint of a labelled alert: which incident it
// files into. service and operation are the ones the parser derived;
// sourceFP and groupKey are the source's own identities, "" when it gives
// none (then the label set's hash stands for sourceFP, and the default
// identity for groupKey).
func (g Grouping) Identify(source string, labels map[string]string, service, operation, sourceFP, groupKey string) string {
	for _, r := range g.Rules {
		if r.matches(source, labels) {
			parts := []string{source, labels["alertname"]}
			for _, k := range r.By {
				parts = append(parts, k+"="+labels[k])
			}
			return hashParts(parts)
		}
	}
	switch g.Identity {
	case IdentityFingerprint:
		if sourceFP != "" {
			return sourceFP
		}
		return labelsFingerprint(labels)
	case IdentityGroup:
		if groupKey != "" {
			return hashParts([]string{source, "group", groupKey})
		}
	}
	parts := []string{source, labels["alertname"], "service=" + service, "operation=" + Normalize(NormalizeTitle(operation))}
	for _, k := range scopeLabels {
		if v := labels[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return hashParts(parts)
}

func (r GroupingRule) matches(source string, labels map[string]string) bool {
	if r.Source != "" && !strings.EqualFold(r.Source, source) {
		return false
	}
	for k, v := range r.Match {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func hashParts(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
