package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/people"
)

const peopleShape = `like {alice: {email: alice@example.com, slack: alice.martin, mattermost: amartin}}`

// parsePeople reads who is who: each person's name and the identities
// that are theirs. The directory itself is built once the whole file is
// read, when members and rotations can be brought to the names it gives.
func parsePeople(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "people", line: n.Line, msg: "must map each person's name to their identities, " + peopleShape}
	}
	c.peopleList = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "people." + k.Value
		p := people.Person{Name: strings.TrimPrefix(strings.TrimSpace(k.Value), "@")}
		if v.Kind != yaml.MappingNode {
			return &keyError{key: key, line: v.Line, msg: "must hold the person's identities, " + peopleShape}
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			fk, fv := v.Content[j], v.Content[j+1]
			field := key + "." + fk.Value
			switch fk.Value {
			case "email", "subject":
				if fv.Kind != yaml.ScalarNode || strings.TrimSpace(fv.Value) == "" {
					return &keyError{key: field, line: fv.Line, msg: "must be one value"}
				}
				if fk.Value == "email" {
					if !strings.Contains(fv.Value, "@") {
						return &keyError{key: field, line: fv.Line, msg: fmt.Sprintf("%q is not an email address", fv.Value)}
					}
					p.Email = strings.TrimSpace(fv.Value)
				} else {
					p.Subject = strings.TrimSpace(fv.Value)
				}
			case people.Slack, people.Mattermost:
				handles := []string{fv.Value}
				if fv.Kind == yaml.SequenceNode {
					var err error
					if handles, err = nameList(field, fv); err != nil {
						return err
					}
				} else if fv.Kind != yaml.ScalarNode || strings.TrimSpace(fv.Value) == "" {
					return &keyError{key: field, line: fv.Line, msg: "must be a handle or a list of handles"}
				}
				if fk.Value == people.Slack {
					p.Slack = append(p.Slack, handles...)
				} else {
					p.Mattermost = append(p.Mattermost, handles...)
				}
			default:
				return &keyError{key: field, line: fk.Line, msg: "unknown key (use email, subject, slack, mattermost)"}
			}
		}
		c.peopleList = append(c.peopleList, p)
	}
	return nil
}

// checkPeople builds the directory and names members and rotations by it,
// so that a member listed by email is the same member who types /resolve
// in chat under a handle.
func checkPeople(c *Config) error {
	d, err := people.New(c.peopleList)
	if err != nil {
		return fmt.Errorf("people: %w", err)
	}
	c.People = d
	canon := func(names []string) {
		for i, n := range names {
			names[i] = d.Canonical(n)
		}
	}
	c.Policy.RunPerson = d.Canonical(c.Policy.RunPerson)
	canon(c.Members)
	canon(c.RunWeek.Rotation.Members)
	canon(c.RunWeek.OnCall.Rotation.Members)
	return nil
}
