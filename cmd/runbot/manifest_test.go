package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/commands"
)

// TestSlackManifestRegistersEveryCommand: a command the README and the
// help offer must be typeable in Slack as itself, not only as
// "/runbot <command>": the manifest registers each one.
func TestSlackManifestRegistersEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command     string `yaml:"command"`
				Description string `yaml:"description"`
				URL         string `yaml:"url"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("the manifest is not YAML: %v", err)
	}
	var registered []string
	for _, c := range m.Features.SlashCommands {
		registered = append(registered, strings.TrimPrefix(c.Command, "/"))
		if len(c.Description) > 100 || c.URL == "" {
			t.Errorf("/%s: description of %d characters (Slack takes 100) or no URL", c.Command, len(c.Description))
		}
	}
	for _, c := range (&commands.Router{}).Commands() {
		if c.Name != "help" && !slices.Contains(registered, c.Name) {
			t.Errorf("/%s is not in slack-app-manifest.yaml", c.Name)
		}
	}
	if !slices.Contains(registered, "runbot") {
		t.Error("/runbot is not in the manifest")
	}
}
