package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// setScalar sets one setting from a file's value, naming key in errors.
func setScalar(c *Config, key string, s setting, v *yaml.Node) error {
	if v.Kind != yaml.ScalarNode {
		return &keyError{key: key, line: v.Line, msg: "must be a single value"}
	}
	if err := s.set(c, v.Value); err != nil {
		return &keyError{key: key, line: v.Line, msg: err.Error()}
	}
	return nil
}

// parseSettingsTable reads a table whose keys are the settings named
// <table>_<key> in list, so that each one also has its environment
// variable RUNBOT_<TABLE>_<KEY>. shape says what the table must look like.
func parseSettingsTable(c *Config, n *yaml.Node, table, shape string, list []setting) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: table, line: n.Line, msg: shape}
	}
	prefix := table + "_"
	var names []string
	for _, s := range list {
		if name, ok := strings.CutPrefix(s.key, prefix); ok {
			names = append(names, name)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := table + "." + k.Value
		s, ok := findSetting(list, prefix+k.Value)
		if !ok {
			return &keyError{key: key, line: k.Line, msg: "unknown key (use " + strings.Join(names, ", ") + ")"}
		}
		if err := setScalar(c, key, s, v); err != nil {
			return err
		}
	}
	return nil
}

func findSetting(list []setting, key string) (setting, bool) {
	for _, s := range list {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}
