// Package alerts turns what alert sources send into incidents.Alert values.
// Every function here is pure: bytes in, alerts or a reason out.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// The sources runbot reads, as named in the intake URL.
const (
	SourceAlertmanager = "alertmanager"
	SourceGrafana      = "grafana"
	SourceGeneric      = "generic"
	SourceLog          = "log"
)

// Sources lists the accepted source names.
var Sources = []string{SourceAlertmanager, SourceGrafana, SourceGeneric, SourceLog}

// ErrUnknownSource is returned by Parse for a source it does not read.
var ErrUnknownSource = errors.New("unknown alert source")

// ErrNoAlerts is returned when a payload is well-formed but holds no alert.
var ErrNoAlerts = errors.New("no alerts in payload")

// Parse reads a payload from the named source.
func Parse(source string, body []byte) ([]incidents.Alert, error) {
	switch source {
	case SourceAlertmanager:
		return ParseAlertmanager(body)
	case SourceGrafana:
		return ParseGrafana(body)
	case SourceGeneric:
		return ParseGeneric(body)
	case SourceLog:
		return ParseLog(body)
	}
	return nil, fmt.Errorf("%w %q: use one of %s", ErrUnknownSource, source, strings.Join(Sources, ", "))
}

// serviceOf picks the service label the way teams name it.
func serviceOf(labels map[string]string) string {
	for _, k := range []string{"service", "job", "app"} {
		if v := strings.TrimSpace(labels[k]); v != "" {
			return v
		}
	}
	return "unknown"
}

func parseStatus(s string) (incidents.AlertStatus, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "firing":
		return incidents.AlertFiring, nil
	case "resolved":
		return incidents.AlertResolved, nil
	}
	return "", fmt.Errorf("status %q is not firing or resolved", s)
}

// jsonError rewrites encoding/json errors into a reason a sender can act on.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the body ends too early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "payload"
		}
		return fmt.Errorf("%s: a JSON %s where %s is expected", field, typ.Value, jsonTypeName(typ.Type.String()))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "map["):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "time."):
		return "an RFC 3339 time"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "an object"
}

// entryError names the bad entry of a batch, so the sender can find it.
func entryError(i int, err error) error {
	return fmt.Errorf("alerts[%d]: %w", i, err)
}
