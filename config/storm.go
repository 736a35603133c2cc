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
	{key: "storm_incidents", help: "more incidents than this in one channel within storm.within are told in one storm thread (0: off)", set: func(c *Config, v string) error {
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
	return parseSettingsTable(c, n, "storm", "must hold incidents and within, like {incidents: 10, within: 5m}", stormSettings)
}
