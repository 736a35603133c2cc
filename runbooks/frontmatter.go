package runbooks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// knownKeys lists the front-matter keys, sorted, for the unknown-key error.
const knownKeys = "aliases, channel, dashboards, escalation, owner, replicas, service, url"

// frontMatterOffset turns a line of the front matter into a line of the
// file: the opening --- is line 1, so people can jump straight to the error.
const frontMatterOffset = 1

// parseFile reads one runbook file. service is the name the file name gives,
// used when the front matter does not name the service itself.
func parseFile(path, service string, b []byte) (*entry, error) {
	text := strings.TrimPrefix(string(b), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	fm, body, ok, err := splitFrontMatter(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e := &entry{Entry: Entry{Service: service, File: path}}
	if ok {
		if err := decodeFrontMatter(&e.Entry, fm); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	e.Body = strings.TrimSpace(body)
	e.steps = parseChecklist(e.Service, e.Body)
	return e, nil
}

// splitFrontMatter separates the front matter from the body. Only a file
// whose very first line is --- has front matter; it ends at the next ---
// (or YAML's ...) line.
func splitFrontMatter(text string) (fm, body string, ok bool, err error) {
	first, rest, _ := strings.Cut(text, "\n")
	if strings.TrimRight(first, " \t") != "---" {
		return "", text, false, nil
	}
	for off := 0; ; {
		line, _, more := strings.Cut(rest[off:], "\n")
		if l := strings.TrimRight(line, " \t"); l == "---" || l == "..." {
			end := off + len(line)
			if more {
				end++
			}
			return rest[:off], rest[end:], true, nil
		}
		if !more {
			return "", "", false, errors.New("line 1: front matter opened with --- is never closed (end it with a --- line)")
		}
		off += len(line) + 1
	}
}

// fieldError is a bad value, with the line of the value itself (a list item
// may sit several lines below its key).
type fieldError struct {
	line int
	msg  string
}

func (e *fieldError) Error() string { return e.msg }

func decodeFrontMatter(e *Entry, fm string) error {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(fm), &doc); err != nil {
		return yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil // only comments, or nothing between the --- lines
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: front matter must be keys and values, like owner: team-identity", root.Line+frontMatterOffset)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		line := k.Line + frontMatterOffset
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: keys must be plain names (known: %s)", line, knownKeys)
		}
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("line %d: key %q is set twice (first on line %d)", line, k.Value, first)
		}
		seen[k.Value] = line
		if !strings.Contains(", "+knownKeys+", ", ", "+k.Value+", ") {
			return fmt.Errorf("line %d: unknown key %q (known: %s)", line, k.Value, knownKeys)
		}
		if err := setField(e, k.Value, v); err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				line = fe.line + frontMatterOffset
			}
			return fmt.Errorf("line %d: %s: %w", line, k.Value, err)
		}
	}
	return nil
}

func setField(e *Entry, key string, v *yaml.Node) error {
	var err error
	switch key {
	case "service":
		e.Service, err = scalar(v)
		if err == nil && e.Service == "" {
			err = &fieldError{line: v.Line, msg: "must not be empty (leave the key out to use the file name)"}
		}
	case "owner":
		e.Owner, err = scalar(v)
	case "channel":
		e.Channel, err = scalar(v)
	case "escalation":
		e.Escalation, err = scalar(v)
	case "url":
		e.URL, err = scalar(v)
	case "replicas":
		e.Replicas, err = replicas(v)
	case "dashboards":
		e.Dashboards, err = list(v)
	case "aliases":
		e.Aliases, err = list(v)
	}
	return err
}

// resolve follows a YAML alias (*anchor) to the node it names.
func resolve(v *yaml.Node) *yaml.Node {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	return v
}

func isNull(v *yaml.Node) bool { return v.Kind == yaml.ScalarNode && v.Tag == "!!null" }

func scalar(v *yaml.Node) (string, error) {
	v = resolve(v)
	if isNull(v) {
		return "", nil
	}
	if v.Kind != yaml.ScalarNode {
		return "", &fieldError{line: v.Line, msg: "must be a single value, not a list or a map"}
	}
	return strings.TrimSpace(v.Value), nil
}

func replicas(v *yaml.Node) (int, error) {
	v = resolve(v)
	if isNull(v) {
		return 0, nil
	}
	bad := &fieldError{line: v.Line, msg: fmt.Sprintf("%q is not a whole number of replicas (write a count like 2, or 0 for unknown)", v.Value)}
	if v.Kind != yaml.ScalarNode {
		bad.msg = "must be a whole number of replicas, like 2 (0 for unknown)"
		return 0, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.Value))
	if err != nil && v.Decode(&n) != nil { // Decode takes YAML's other int spellings, like 0x10
		return 0, bad
	}
	if n < 0 {
		return 0, bad
	}
	return n, nil
}

func list(v *yaml.Node) ([]string, error) {
	v = resolve(v)
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, &fieldError{line: v.Line, msg: "must be a list, like [a, b] or one \"- item\" per line"}
	}
	out := make([]string, 0, len(v.Content))
	for i, item := range v.Content {
		item = resolve(item)
		s, err := scalar(item)
		if err != nil {
			return nil, &fieldError{line: item.Line, msg: fmt.Sprintf("item %d must be a single value", i+1)}
		}
		if s == "" {
			return nil, &fieldError{line: item.Line, msg: fmt.Sprintf("item %d is empty", i+1)}
		}
		out = append(out, s)
	}
	return out, nil
}

// yamlError moves yaml's "line N" from the front matter to the file.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				return fmt.Errorf("line %d: invalid front matter: %s", n+frontMatterOffset, tail)
			}
		}
	}
	return fmt.Errorf("invalid front matter: %s", msg)
}
