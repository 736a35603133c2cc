package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/runbot-dev/runbot/incidents"
)

// Framing is how a log body holds its records, as its Content-Type says.
type Framing int

const (
	// FramingAuto is for a body whose type says nothing (none, a form, as
	// curl sends): a body that is wholly JSON records is read as records,
	// anything else as lines.
	FramingAuto Framing = iota
	// FramingLines is text/plain: one alert per line, unless the body is
	// wholly JSON records (a JSON array sent by curl as text).
	FramingLines
	// FramingNDJSON is one JSON record per line (Vector's json codec with
	// newline_delimited framing); a line that is not JSON is read as text.
	FramingNDJSON
	// FramingJSON is an array of records or records one after another
	// (Fluent Bit json, json_stream and json_lines, which it types alike;
	// Vector's json codec; Logstash json and json_batch); nothing else is
	// accepted.
	FramingJSON
)

func (f Framing) String() string {
	switch f {
	case FramingLines:
		return "lines"
	case FramingNDJSON:
		return "ndjson"
	case FramingJSON:
		return "json"
	}
	return "auto"
}

// UnsupportedTypeError is a Content-Type the log endpoint cannot read,
// with what to configure instead.
type UnsupportedTypeError struct{ Type, Hint string }

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("Content-Type %q is not read by the log endpoint: %s", e.Type, e.Hint)
}

// NotTextError is a body that is neither text nor JSON: msgpack from a
// shipper left at its default, or some other binary. Filed, it would make
// incidents titled with bytes, answered 200 so the sender never knew.
type NotTextError struct{ Offset int }

func (e *NotTextError) Error() string {
	return fmt.Sprintf("the body is not UTF-8 text (a binary byte at %d): send text lines or JSON "+
		"(Fluent Bit: format json_lines; Vector: encoding.codec json; Logstash: format json_batch)", e.Offset)
}

// LogFraming reads a Content-Type for the log endpoint.
func LogFraming(contentType string) (Framing, error) {
	if strings.TrimSpace(contentType) == "" {
		return FramingAuto, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return FramingAuto, nil // a type nobody can parse says nothing about the body
	}
	switch {
	case mt == "text/plain":
		return FramingLines, nil
	case mt == "application/x-ndjson" || mt == "application/ndjson" || mt == "application/jsonlines" ||
		mt == "application/x-jsonlines" || mt == "application/jsonl":
		return FramingNDJSON, nil
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return FramingJSON, nil
	case mt == "application/msgpack" || mt == "application/x-msgpack" || mt == "application/vnd.msgpack":
		return 0, &UnsupportedTypeError{Type: mt, Hint: "msgpack is not decoded; send JSON " +
			"(Fluent Bit's http output sends msgpack unless told: set format json_lines)"}
	case mt == "application/x-protobuf" || mt == "application/protobuf":
		return 0, &UnsupportedTypeError{Type: mt, Hint: "protobuf (OTLP) is not decoded; send JSON " +
			"(Vector: encoding.codec json)"}
	}
	return FramingAuto, nil
}

// ParseLogBatch reads a log body framed as f and collapses its repeats,
// as ParseBatch does for the log source.
func ParseLogBatch(body []byte, f Framing, lim BatchLimits) (*Batch, error) {
	c := &collector{b: &Batch{}, lim: lim, runs: map[string]*run{}}
	if err := c.addLog(body, f); err != nil {
		return nil, err
	}
	return c.b, nil
}

// addLog reads a log body in its framing.
func (c *collector) addLog(body []byte, f Framing) error {
	if i := binaryAt(body); i >= 0 {
		return &NotTextError{Offset: i}
	}
	switch f {
	case FramingJSON:
		return c.addRecords(body)
	case FramingAuto, FramingLines:
		// A body that is wholly JSON records is read as records even when
		// typed as text: a JSON array is never a log line anyone wants as a
		// title, and NDJSON read either way gives the same alerts.
		if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '[' || t[0] == '{') && looksLikeRecords(t) {
			return c.addRecords(body)
		}
	}
	// NDJSON is lines: each JSON line is read as a record by ParseLine,
	// and one that is not JSON is still an alert, never dropped for its
	// form.
	return c.addLines(body)
}

// addRecords reads a JSON array of records, or records one after another.
func (c *collector) addRecords(body []byte) error {
	return eachRecord(body, func(a incidents.Alert, quiet bool) error {
		if quiet {
			c.b.Skipped++
			return nil
		}
		_, err := c.place(a)
		return err
	})
}

// eachRecord calls fn with the alert of every record of a JSON body (an
// array of records, or records one after another), and whether the
// record's level says nothing is wrong.
func eachRecord(body []byte, fn func(a incidents.Alert, quiet bool) error) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ErrNoAlerts
	}
	if body[0] != '[' && body[0] != '{' {
		return errors.New("the body is not JSON: send a JSON array or object of records with application/json, or lines with text/plain")
	}
	n := 0
	each := func(raw json.RawMessage) error {
		rec, ok := decodeRecord(raw)
		if !ok {
			return fmt.Errorf("records[%d]: a JSON %s where a record object is expected", n, jsonKind(raw))
		}
		n++
		return fn(recordAlert(rec, string(raw)))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if body[0] == '[' {
		var raws []json.RawMessage
		if err := dec.Decode(&raws); err != nil {
			return jsonError(err)
		}
		if dec.More() {
			return errors.New("malformed JSON: data after the array of records")
		}
		for _, r := range raws {
			if err := each(r); err != nil {
				return err
			}
		}
	} else {
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return jsonError(err)
			}
			if err := each(raw); err != nil {
				return err
			}
		}
	}
	if n == 0 {
		return ErrNoAlerts
	}
	return nil
}

// looksLikeRecords reports whether b is wholly JSON records: objects one
// after another, or one array of objects. A line of text never is, so a
// body without a type can be read by its looks.
func looksLikeRecords(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	values := 0
	for dec.More() {
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
		values++
		switch v[0] {
		case '{':
		case '[':
			var raws []json.RawMessage
			if values > 1 || json.Unmarshal(v, &raws) != nil || len(raws) == 0 {
				return false
			}
			for _, r := range raws {
				if r[0] != '{' {
					return false
				}
			}
			if dec.More() {
				return false
			}
		default:
			return false
		}
	}
	return values > 0
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// binaryAt is the offset of the first byte that no text log holds (a
// control byte other than white space and ESC, which colours use, or
// bytes that are not UTF-8), -1 when there is none. Every log body pays
// for this scan, so it runs as two tight loops rather than one that
// decodes runes.
func binaryAt(body []byte) int {
	const text = 1<<'\t' | 1<<'\n' | 1<<'\v' | 1<<'\f' | 1<<'\r' | 1<<0x1b // the controls text holds
	for i, c := range body {
		if c < 0x20 && text&(1<<c) == 0 {
			return i
		}
	}
	if utf8.Valid(body) {
		return -1
	}
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// isShipperRecord reports whether a JSON body starts with a log record
// as shippers send them (a message and a time, no summary) rather than an
// alert; the records after it (NDJSON) are not read.
func isShipperRecord(raw []byte) bool {
	var rec map[string]any
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&rec) != nil || rec == nil || rec["summary"] != nil {
		return false
	}
	message, when := false, false
	for _, k := range append([]string{"short_message"}, messageKeys...) {
		_, s := rec[k].(string)
		message = message || s
	}
	for _, k := range timeKeys {
		when = when || rec[k] != nil
	}
	return message && (when || rec["kubernetes"] != nil)
}
