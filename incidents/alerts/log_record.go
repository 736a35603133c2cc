package alerts

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// shipperKeys are what a log shipper adds to every record about its own
// plumbing (the file tailed, the stream, the event as read, the shipper's
// version). As labels they would tell nothing, and the ones that differ
// per record would keep copies of one failure apart.
var shipperKeys = map[string]bool{
	"kubernetes": true, "stream": true, "_p": true, "logtag": true, "@version": true, "source_type": true,
	"file": true, "event": true, "tags": true, "agent": true, "ecs": true, "input": true,
}

// decodeRecord decodes one JSON object, numbers kept as written.
func decodeRecord(raw []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil || rec == nil || dec.More() {
		return nil, false
	}
	return rec, true
}

// recordAlert reads one JSON log record, a shipper's or an application's,
// and reports whether its level says nothing is wrong. A shipper's record
// carries the application's line as a string (Fluent Bit "log", Vector
// and Logstash "message"); when that line is itself a JSON record, it is
// the record read, with the shipper's Kubernetes metadata added as the
// labels namespace, pod, container, node and app.
func recordAlert(rec map[string]any, payload string) (incidents.Alert, bool) {
	var container string
	if isGELF(rec) {
		rec, container = fromGELF(rec)
	}
	kube := kubernetesLabels(rec)
	fields := flatten(rec)
	if key, inner := nestedRecord(rec); inner != nil {
		outer := fields
		fields = flatten(inner)
		for k, v := range outer {
			if _, ok := fields[k]; !ok && k != key {
				fields[k] = v
			}
		}
	}
	if pick(fields, messageKeys) == "" && pick(fields, errorKeys) == "" {
		// A record without a message is told by its fields, its times left
		// out: the same record sent a minute later is the same failure,
		// which the whole record (the title otherwise) would not be.
		fields["msg"] = fieldsText(fields)
	}
	// The workload's name, then its container's, name the service when
	// the line does not: a crash trace says no "[service]".
	a := fromFields(fields, payload, cmp.Or(kube["app"], kube["container"], container))
	for k, v := range kube {
		if _, ok := a.Labels[k]; !ok {
			a.Labels[k] = v
		}
	}
	return quiet(a)
}

// nestedRecord finds an application's JSON record in a shipper's message
// string, and the key that held it.
func nestedRecord(rec map[string]any) (string, map[string]any) {
	for _, k := range messageKeys {
		s, ok := rec[k].(string)
		if !ok {
			continue
		}
		if s = strings.TrimSpace(s); strings.HasPrefix(s, "{") {
			if inner, ok := decodeRecord([]byte(s)); ok {
				return k, inner
			}
		}
		return "", nil // the message is text: the first message key is the one read
	}
	return "", nil
}

// flatten makes a record's fields strings, leaving out the shipper's
// plumbing; what an ECS record nests (log.level, host.name) is taken out
// by name.
func flatten(rec map[string]any) map[string]string {
	fields := make(map[string]string, len(rec))
	for k, v := range rec {
		switch v := v.(type) {
		case nil:
		case string:
			fields[k] = v
		case json.Number:
			fields[k] = v.String()
		case bool:
			fields[k] = strconv.FormatBool(v)
		case map[string]any:
			switch {
			case k == "log": // ECS: log.level, log.file.path
				if lvl, ok := v["level"].(string); ok {
					fields["level"] = cmp.Or(fields["level"], lvl)
				}
			case k == "host": // ECS and Logstash: host.name
				if name, ok := v["name"].(string); ok {
					fields[k] = name
				}
			case !shipperKeys[k]:
				b, _ := json.Marshal(v)
				fields[k] = string(b)
			}
		default:
			if !shipperKeys[k] {
				b, _ := json.Marshal(v)
				fields[k] = string(b)
			}
		}
	}
	for k := range shipperKeys {
		delete(fields, k)
	}
	if lvl, ok := rec["level"].(string); ok {
		fields["level"] = lvl // a top-level level wins over ECS's log.level
	}
	return fields
}

// kubernetesLabels reads the "kubernetes" map of Fluent Bit's kubernetes
// filter (namespace_name, pod_name, container_name, host, labels),
// Vector's kubernetes_logs source (pod_namespace, pod_name,
// container_name, pod_node_name, pod_labels) and ECS (namespace,
// pod.name, container.name, node.name, labels).
func kubernetesLabels(rec map[string]any) map[string]string {
	k, ok := rec["kubernetes"].(map[string]any)
	if !ok {
		return nil
	}
	str := func(path ...string) string {
		var v any = k
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return ""
			}
			v = m[p]
		}
		s, _ := v.(string)
		return strings.TrimSpace(s)
	}
	out := map[string]string{}
	set := func(label string, vals ...string) {
		if v := cmp.Or(vals...); v != "" {
			out[label] = v
		}
	}
	set("namespace", str("namespace_name"), str("pod_namespace"), str("namespace"))
	set("pod", str("pod_name"), str("pod", "name"))
	set("container", str("container_name"), str("container", "name"))
	set("node", str("host"), str("pod_node_name"), str("node", "name"))
	var app []string
	for _, labels := range []string{"labels", "pod_labels"} {
		for _, name := range []string{"app.kubernetes.io/name", "app_kubernetes_io/name", "app.kubernetes.io_name", "app", "k8s-app"} {
			app = append(app, str(labels, name))
		}
	}
	set("app", app...)
	return out
}

// fieldsText renders fields but their times as "k=v" pairs, sorted.
func fieldsText(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !slices.Contains(timeKeys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "a log record with no message"
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
	}
	return b.String()
}
