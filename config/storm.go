package config

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// stormSettings are the storm table's keys; each is also
// RUNBOT_STORM_<KEY>.
var stormSettings = []setting{
	{key: "storm_incidents", help: "more incidents than this in one channel within storm_within are told in one storm thread (0: off)", set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a count (0 turns storm control off)", v)
		}
		c.Policy.Storm.Incidents = n
		return nil
	}},
	{key: "storm_within", help: "the storm window; a storm ends when its channel has been quiet this long", set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%q is not a duration of at least 1s", v)
		}
		c.Policy.Storm.Within = d
		return nil
	}},
}

func parseStorm(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "storm", line: n.Line, msg: "must hold incidents and within, like {incidents: 10, within: 5m}"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "storm." + k.Value
		found := false
		for _, s := range stormSettings {
			if s.key != "storm_"+k.Value {
				continue
			}
			found = true
			if v.Kind != yaml.ScalarNode {
				return &keyError{key: key, line: v.Line, msg: "must be a single value"}
			}
			if err := s.set(c, v.Value); err != nil {
				return &keyError{key: key, line: v.Line, msg: err.Error()}
			}
		}
		if !found {
			return &keyError{key: key, line: k.Line, msg: "unknown key (use incidents, within)"}
		}
	}
	return nil
}
