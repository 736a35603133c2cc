package alerts

import (
	"regexp"
	"strings"
)

// Story is the seed's error shape: "[service] operation: error".
type Story struct {
	Service   string
	Operation string // may be empty: "[service] something broke"
	Error     string
	Level     string // a level word found before the service, if any
}

var (
	serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$`)
	stampishRE    = regexp.MustCompile(`^[0-9][0-9:.,TZ+/ -]*$`)
)

var levelWords = map[string]string{
	"trace": "info", "debug": "info", "info": "info", "informational": "info", "notice": "info",
	"warn": "warning", "warning": "warning",
	"err": "error", "error": "error", "eror": "error",
	"crit": "critical", "critical": "critical", "fatal": "critical", "panic": "critical", "emerg": "critical",
	"emergency": "critical", "alert": "critical",
}

// LevelSeverity maps a log level word to a severity, "" when it is not one.
func LevelSeverity(level string) string {
	return levelWords[strings.ToLower(strings.TrimSpace(level))]
}

// maxOperation bounds what counts as an operation: past this, the colon is
// part of a message, not the end of an operation name.
const maxOperation = 120

// ParseStory finds "[service] operation: error" in s. A prefix of
// timestamps and a level ("2026-03-02T10:00:00Z ERROR [svc] ...", "[ERROR]
// [svc] ...") is skipped, so that ordinary log lines fit.
func ParseStory(s string) (Story, bool) {
	var st Story
	s = strings.TrimSpace(s)
	for range 5 {
		if strings.HasPrefix(s, "[") {
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return Story{}, false
			}
			inner := strings.TrimSpace(s[1:end])
			rest := strings.TrimSpace(s[end+1:])
			switch {
			case LevelSeverity(inner) != "":
				st.Level = LevelSeverity(inner)
			case stampishRE.MatchString(inner):
			case serviceNameRE.MatchString(inner):
				return finishStory(st, inner, rest)
			default:
				return Story{}, false
			}
			s = rest
			continue
		}
		tok, rest, _ := strings.Cut(s, " ")
		switch {
		case LevelSeverity(strings.TrimRight(tok, ":")) != "":
			st.Level = LevelSeverity(strings.TrimRight(tok, ":"))
		case stampishRE.MatchString(tok):
		default:
			return Story{}, false
		}
		s = strings.TrimSpace(rest)
	}
	return Story{}, false
}

func finishStory(st Story, service, rest string) (Story, bool) {
	if rest == "" {
		return Story{}, false
	}
	st.Service = service
	if op, errText, ok := strings.Cut(rest, ": "); ok && op != "" && len(op) <= maxOperation && strings.TrimSpace(errText) != "" {
		st.Operation, st.Error = strings.TrimSpace(op), strings.TrimSpace(errText)
	} else {
		st.Error = rest
	}
	return st, true
}

// Title renders the story without its service, which is shown apart.
func (st Story) Title() string {
	if st.Operation == "" {
		return st.Error
	}
	return st.Operation + ": " + st.Error
}
