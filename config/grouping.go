package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

// groupingHelp is the grouping table's line in runbot --help.
const groupingHelp = "which labelled alerts are one incident and which label names the service, like " +
	"{identity: labels, service_labels: [app, service, job], rules: [{match: {alertname: NodeDown}, by: [instance]}]}; " +
	"identity is labels (one incident per rule, service and namespace), fingerprint (one per label set) or group (Alertmanager's groupKey)"

func parseGrouping(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "grouping", line: n.Line, msg: "must hold identity, service_labels or rules, like {identity: fingerprint}"}
	}
	g := alerts.Grouping{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "grouping." + k.Value
		switch k.Value {
		case "identity":
			g.Identity = v.Value
			if err := (alerts.Grouping{Identity: v.Value}).Check(); v.Kind != yaml.ScalarNode || err != nil {
				return &keyError{key: key, line: v.Line, msg: fmt.Sprintf("%q is not %s, %s or %s", v.Value, alerts.IdentityLabels, alerts.IdentityFingerprint, alerts.IdentityGroup)}
			}
		case "service_labels":
			labels, err := labelList(key, v)
			if err != nil {
				return err
			}
			g.ServiceLabels = labels
		case "rules":
			if v.Kind != yaml.SequenceNode {
				return &keyError{key: key, line: v.Line, msg: "must be a list of rules, like [{match: {alertname: NodeDown}, by: [instance]}]"}
			}
			for j, r := range v.Content {
				rule, err := parseGroupingRule(fmt.Sprintf("grouping.rules[%d]", j), r)
				if err != nil {
					return err
				}
				g.Rules = append(g.Rules, rule)
			}
		default:
			return &keyError{key: key, line: k.Line, msg: "unknown key (use identity, service_labels, rules)"}
		}
	}
	c.Grouping = g
	return nil
}

func parseGroupingRule(key string, n *yaml.Node) (alerts.GroupingRule, error) {
	var r alerts.GroupingRule
	if n.Kind != yaml.MappingNode {
		return r, &keyError{key: key, line: n.Line, msg: "must be a rule, like {match: {alertname: NodeDown}, by: [instance]}"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := key + "." + k.Value
		switch k.Value {
		case "source":
			// Only labelled sources have labels to group by.
			if v.Value != alerts.SourceAlertmanager && v.Value != alerts.SourceGrafana {
				return r, &keyError{key: field, line: v.Line, msg: fmt.Sprintf("%q is not %s or %s", v.Value, alerts.SourceAlertmanager, alerts.SourceGrafana)}
			}
			r.Source = v.Value
		case "match":
			if v.Kind != yaml.MappingNode {
				return r, &keyError{key: field, line: v.Line, msg: "must map labels to values, like {alertname: NodeDown}"}
			}
			r.Match = map[string]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j+1].Kind != yaml.ScalarNode {
					return r, &keyError{key: field + "." + v.Content[j].Value, line: v.Content[j+1].Line, msg: "must be a single value"}
				}
				r.Match[v.Content[j].Value] = v.Content[j+1].Value
			}
		case "by":
			by, err := labelList(field, v)
			if err != nil {
				return r, err
			}
			r.By = by
		default:
			return r, &keyError{key: field, line: k.Line, msg: "unknown key (use source, match, by)"}
		}
	}
	if len(r.By) == 0 {
		return r, &keyError{key: key, line: n.Line, msg: "by must name at least one label"}
	}
	return r, nil
}

func labelList(key string, n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, &keyError{key: key, line: n.Line, msg: "must be a list of label names, like [app, service]"}
	}
	var out []string
	for i, e := range n.Content {
		name := strings.TrimSpace(e.Value)
		if e.Kind != yaml.ScalarNode || name == "" {
			return nil, &keyError{key: fmt.Sprintf("%s[%d]", key, i), line: e.Line, msg: "must be a label name"}
		}
		out = append(out, name)
	}
	return out, nil
}
