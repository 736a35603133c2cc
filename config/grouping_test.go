package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/alerts"
)

func TestGrouping(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Grouping.Identity != "" || c.Grouping.ServiceLabels != nil || c.Grouping.Rules != nil {
		t.Fatalf("default grouping %+v, want the zero (default) one", c.Grouping)
	}
	c, err = config.Load(write(t, `grouping:
  identity: fingerprint
  service_labels: [team_service, app, job]
  rules:
    - match: {alertname: NodeDown}
      by: [instance]
    - source: alertmanager
      by: [alertname, route]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Grouping
	if g.Identity != alerts.IdentityFingerprint || !slices.Equal(g.ServiceLabels, []string{"team_service", "app", "job"}) || len(g.Rules) != 2 ||
		g.Rules[0].Match["alertname"] != "NodeDown" || !slices.Equal(g.Rules[0].By, []string{"instance"}) ||
		g.Rules[1].Source != "alertmanager" || len(g.Rules[1].Match) != 0 {
		t.Fatalf("grouping from the file %+v", g)
	}
	for body, want := range map[string]string{
		"grouping: labels\n":                                 "line 1: grouping: must hold identity, service_labels or rules",
		"grouping: {identity: pod}\n":                        `grouping.identity: "pod" is not labels, fingerprint or group`,
		"grouping:\n  service_labels: app\n":                 "line 2: grouping.service_labels: must be a list of label names",
		"grouping: {rules: [{match: {alertname: X}}]}\n":     "grouping.rules[0]: by must name at least one label",
		"grouping: {rules: [{by: [pod], group_by: [x]}]}\n":  "grouping.rules[0].group_by: unknown key (use source, match, by)",
		"grouping: {rules: [{source: nagios, by: [pod]}]}\n": `grouping.rules[0].source: "nagios" is not alertmanager or grafana`,
		"grouping: {size: 3}\n":                              "grouping.size: unknown key (use identity, service_labels, rules)",
	} {
		if _, err := config.Load(write(t, body), env(nil)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	if !strings.Contains(config.Help(), "grouping") {
		t.Error("the help does not list the grouping table")
	}
}
