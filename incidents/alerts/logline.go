package alerts

import (
	"bytes"
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/go-logfmt/logfmt"

	"github.com/runbot-dev/runbot/incidents"
)

// Field names that structured loggers use for the same things.
var (
	messageKeys   = []string{"msg", "message", "log"}
	errorKeys     = []string{"error", "err", "error_message"}
	serviceKeys   = []string{"service", "service_name", "app", "job", "SYSLOG_IDENTIFIER"}
	operationKeys = []string{"operation", "op"}
	levelKeys     = []string{"level", "severity", "lvl", "PRIORITY"} // PRIORITY: journald's, as Vector's journald source passes it
	timeKeys      = []string{"time", "ts", "timestamp", "@timestamp", "t", "date"}
)

var logfmtStartRE = regexp.MustCompile(`^[A-Za-z_@][A-Za-z0-9_.@-]*=`)

// ParseLog reads a log body without a Content-Type: JSON records (an
// array of them, or one after another, as log shippers send) or text
// lines, one alert per record or non-empty line. A line is, in order of
// preference, a JSON log record, a "[service] operation: error" story
// (after an optional timestamp and level), a logfmt record, or anything
// else: a line that fits no shape is still an alert, with service
// "unknown" and the line as its title, because an alert must never be
// dropped for its form. A record or line whose level says nothing is
// wrong (debug, info) is read and left out: a shipper sends every line,
// and healthy ones must not open incidents. Bytes that are not text are
// refused (NotTextError).
func ParseLog(body []byte) ([]incidents.Alert, error) {
	if i := binaryAt(body); i >= 0 {
		return nil, &NotTextError{Offset: i}
	}
	out := []incidents.Alert{}
	keep := func(a incidents.Alert, quiet bool) error {
		if !quiet {
			out = append(out, a)
		}
		return nil
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '[' || t[0] == '{') && looksLikeRecords(t) {
		if err := eachRecord(t, keep); err != nil {
			return nil, err
		}
		return out, nil
	}
	read := 0
	err := eachLine(body, func(line []byte) error {
		read++
		return keep(readLine(string(line)))
	})
	if err != nil {
		return nil, err
	}
	if read == 0 {
		return nil, ErrNoAlerts
	}
	return out, nil
}

// ParseLine reads one log line; see ParseLog. It gives the alert whatever
// the line's level: readLine tells the level apart.
func ParseLine(line string) incidents.Alert {
	a, _ := readLine(line)
	return a
}

// readLine reads one log line, and reports whether its level says nothing
// is wrong.
func readLine(line string) (incidents.Alert, bool) {
	if strings.HasPrefix(line, "{") {
		if rec, ok := decodeRecord([]byte(line)); ok {
			return recordAlert(rec, line)
		}
	}
	if st, ok := ParseStory(line); ok {
		return quiet(fromStory(st, line))
	}
	if strings.IndexByte(line, '=') > 0 && logfmtStartRE.MatchString(line) { // a scan for '=' costs less than the expression
		if fields, ok := logfmtFields(line); ok {
			return quiet(fromFields(fields, line, ""))
		}
	}
	if level, msg, ok := parseKlog(line); ok {
		return quiet(fromFields(map[string]string{"msg": msg, "level": level}, line, ""))
	}
	return incidents.Alert{
		Source:      SourceLog,
		Fingerprint: Fingerprint("unknown", "", line),
		Service:     "unknown",
		Title:       line,
		Status:      incidents.AlertFiring,
		Payload:     line,
	}, false
}

// quiet pairs an alert with whether its level says nothing is wrong.
func quiet(a incidents.Alert) (incidents.Alert, bool) { return a, a.Severity == "info" }

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
// service names the service when neither the fields nor the story do.
func fromFields(fields map[string]string, line, service string) incidents.Alert {
	msg, errText := pick(fields, messageKeys), pick(fields, errorKeys)
	fallback := service
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
		if klevel, kmsg, ok := parseKlog(failure); ok {
			level, failure = cmp.Or(level, klevel), kmsg
		}
	}
	if failure == "" {
		failure = line
	}
	service = cmp.Or(service, fallback, "unknown")

	labels := make(map[string]string, len(fields))
	for k, v := range fields {
		if !slices.Contains(messageKeys, k) && !slices.Contains(errorKeys, k) && !slices.Contains(timeKeys, k) {
			labels[k] = v
		}
	}
	// Shown as the fingerprint reads it: the user id of the first line
	// is no more the failure than the next line's; the raw line stays in
	// the payload.
	title := NormalizeTitle(failure)
	if op != "" {
		title = op + ": " + title
	}
	sev := cmp.Or(LevelSeverity(level), numericLevel(level))
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
