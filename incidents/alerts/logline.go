package alerts

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/go-logfmt/logfmt"

	"github.com/runbot-dev/runbot/incidents"
)

// Field names that structured loggers use for the same things.
var (
	messageKeys   = []string{"msg", "message"}
	errorKeys     = []string{"error", "err", "error_message"}
	serviceKeys   = []string{"service", "service_name", "app", "job"}
	operationKeys = []string{"operation", "op"}
	levelKeys     = []string{"level", "severity", "lvl"}
	timeKeys      = []string{"time", "ts", "timestamp", "@timestamp", "t"}
)

var logfmtStartRE = regexp.MustCompile(`^[A-Za-z_@][A-Za-z0-9_.@-]*=`)

// ParseLog reads text lines, one alert per non-empty line. A line is, in
// order of preference, a JSON log record, a "[service] operation: error"
// story (after an optional timestamp and level), a logfmt record, or
// anything else: a line that fits no shape is still an alert, with service
// "unknown" and the line as its title, because an alert must never be
// dropped for its form.
func ParseLog(body []byte) ([]incidents.Alert, error) {
	var out []incidents.Alert
	err := eachLine(body, func(line []byte) error {
		out = append(out, ParseLine(string(line)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, ErrNoAlerts
	}
	return out, nil
}

// ParseLine reads one log line; see ParseLog.
func ParseLine(line string) incidents.Alert {
	if strings.HasPrefix(line, "{") {
		if fields, ok := jsonFields(line); ok {
			return fromFields(fields, line)
		}
	}
	if st, ok := ParseStory(line); ok {
		return fromStory(st, line)
	}
	if strings.IndexByte(line, '=') > 0 && logfmtStartRE.MatchString(line) { // a scan for '=' costs less than the expression
		if fields, ok := logfmtFields(line); ok {
			return fromFields(fields, line)
		}
	}
	return incidents.Alert{
		Source:      SourceLog,
		Fingerprint: Fingerprint("unknown", "", line),
		Service:     "unknown",
		Title:       line,
		Status:      incidents.AlertFiring,
		Payload:     line,
	}
}

func fromStory(st Story, line string) incidents.Alert {
	return incidents.Alert{
		Source:      SourceLog,
		Fingerprint: Fingerprint(st.Service, st.Operation, st.Error),
		Service:     st.Service,
		Operation:   st.Operation,
		Title:       st.Title(),
		Severity:    st.Level,
		Status:      incidents.AlertFiring,
		Payload:     line,
	}
}

// fromFields builds an alert from a structured record. Two conventions are
// understood: a message in the story shape, and the "message is the
// operation, error field is the error" style of slog, zap and logrus.
func fromFields(fields map[string]string, line string) incidents.Alert {
	msg, errText := pick(fields, messageKeys), pick(fields, errorKeys)
	service, op := pick(fields, serviceKeys), pick(fields, operationKeys)
	level := pick(fields, levelKeys)

	var failure string
	story, isStory := ParseStory(msg)
	switch {
	case isStory:
		service, op = cmp.Or(service, story.Service), cmp.Or(op, story.Operation)
		failure = story.Error
		level = cmp.Or(level, story.Level)
	case msg != "" && errText != "":
		op, failure = cmp.Or(op, msg), errText
	default:
		failure = cmp.Or(msg, errText)
	}
	if failure == "" {
		failure = line
	}
	service = cmp.Or(service, "unknown")

	labels := make(map[string]string, len(fields))
	for k, v := range fields {
		if !slices.Contains(messageKeys, k) && !slices.Contains(errorKeys, k) && !slices.Contains(timeKeys, k) {
			labels[k] = v
		}
	}
	title := failure
	if op != "" {
		title = op + ": " + failure
	}
	sev := LevelSeverity(level)
	if sev == "" {
		sev = strings.ToLower(level)
	}
	return incidents.Alert{
		Source:      SourceLog,
		Fingerprint: Fingerprint(service, op, failure),
		Service:     service,
		Operation:   op,
		Title:       title,
		Severity:    sev,
		Status:      incidents.AlertFiring,
		Labels:      labels,
		Payload:     line,
	}
}

func jsonFields(line string) (map[string]string, bool) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil || dec.More() {
		return nil, false
	}
	fields := make(map[string]string, len(rec))
	for k, v := range rec {
		switch v := v.(type) {
		case nil:
		case string:
			fields[k] = v
		case json.Number:
			fields[k] = v.String()
		case bool:
			if v {
				fields[k] = "true"
			} else {
				fields[k] = "false"
			}
		default:
			b, _ := json.Marshal(v)
			fields[k] = string(b)
		}
	}
	return fields, true
}

func logfmtFields(line string) (map[string]string, bool) {
	dec := logfmt.NewDecoderSize(strings.NewReader(line), len(line)+1)
	fields := map[string]string{}
	valued := 0
	for dec.ScanRecord() {
		for dec.ScanKeyval() {
			fields[string(dec.Key())] = string(dec.Value())
			if len(dec.Value()) > 0 {
				valued++
			}
		}
	}
	if dec.Err() != nil || valued < 2 && pick(fields, messageKeys) == "" {
		return nil, false
	}
	return fields, true
}

func pick(fields map[string]string, keys []string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(fields[k]); v != "" {
			return v
		}
	}
	return ""
}
