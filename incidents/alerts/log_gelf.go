package alerts

import (
	"cmp"
	"strconv"
	"strings"
)

// GELF is Graylog's log format, written by Fluent Bit's http output with
// format gelf (records one per line, typed application/json), Vector's
// gelf codec, Docker's gelf log driver and Graylog's client libraries:
// the line in short_message (a trace in full_message), the level as a
// syslog number, and every other field named with a leading underscore.

// isGELF reports whether a record is a GELF message: its short_message
// is a string and it names its version or host, as the format requires.
func isGELF(rec map[string]any) bool {
	if _, ok := rec["short_message"].(string); !ok {
		return false
	}
	_, version := rec["version"].(string)
	return version || rec["host"] != nil
}

// gelfPlumbing are the fields Docker's gelf driver adds that differ for
// every container and name no failure.
var gelfPlumbing = map[string]bool{"command": true, "created": true, "image_id": true, "container_id": true, "id": true}

// fromGELF makes a GELF message a record as the other shippers write it:
// the line under "message", the additional fields without their
// underscore (a field the message names itself wins), Fluent Bit's
// flattened _kubernetes_* fields as the "kubernetes" map, and the format's
// own bookkeeping (version, full_message, facility, file, line) left out;
// the payload keeps them all. It also gives the service a Docker
// container names when the line does not: the Compose service, or the
// container's name.
func fromGELF(rec map[string]any) (map[string]any, string) {
	out := make(map[string]any, len(rec))
	kube := map[string]any{}
	labels := map[string]any{}
	for k, v := range rec {
		name, extra := strings.CutPrefix(k, "_")
		switch {
		case !extra:
			switch k {
			case "short_message", "full_message", "version", "facility", "file", "line":
			default:
				out[k] = v
			}
		case strings.HasPrefix(name, "kubernetes_labels_"):
			labels[strings.TrimPrefix(name, "kubernetes_labels_")] = v
		case strings.HasPrefix(name, "kubernetes_"):
			kube[strings.TrimPrefix(name, "kubernetes_")] = v
		}
	}
	for k, v := range rec {
		name, extra := strings.CutPrefix(k, "_")
		if !extra || strings.HasPrefix(name, "kubernetes_") || gelfPlumbing[name] {
			continue
		}
		if _, taken := out[name]; !taken {
			out[name] = v
		}
	}
	msg, _ := rec["short_message"].(string)
	if strings.TrimSpace(msg) == "" {
		full, _ := rec["full_message"].(string)
		msg, _, _ = strings.Cut(strings.TrimSpace(full), "\n")
	}
	out["message"] = msg
	if len(labels) > 0 {
		kube["labels"] = labels
	}
	if len(kube) > 0 {
		out["kubernetes"] = kube
	}
	str := func(k string) string { s, _ := out[k].(string); return strings.TrimSpace(s) }
	return out, cmp.Or(str("com.docker.compose.service"), str("container_name"))
}

// numericLevel reads a level written as a number: syslog's 0 (emergency)
// to 7 (debug), which GELF and journald use, or bunyan's and pino's 10
// (trace) to 60 (fatal). "" when it is neither.
func numericLevel(level string) string {
	n, err := strconv.ParseFloat(strings.TrimSpace(level), 64)
	if err != nil || n != float64(int(n)) {
		return ""
	}
	switch i := int(n); {
	case i < 0:
		return ""
	case i <= 2: // emergency, alert, critical
		return "critical"
	case i == 3:
		return "error"
	case i == 4:
		return "warning"
	case i <= 7: // notice, informational, debug
		return "info"
	case i < 10:
		return ""
	case i < 40: // trace, debug, info
		return "info"
	case i < 50:
		return "warning"
	case i < 60:
		return "error"
	case i < 70:
		return "critical"
	}
	return ""
}
