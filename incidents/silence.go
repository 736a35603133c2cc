package incidents

import (
	"fmt"
	"strings"
	"time"
)

// Silence is a maintenance window: alerts that match it are stored and
// counted, open no thread, and are summed up when it ends.
type Silence struct {
	ID        int64
	Matcher   string // a service name, or label=value pairs joined by commas
	From      time.Time
	Until     time.Time
	Reason    string
	By        string
	Alerts    int // alerts that matched
	Incidents int // incidents it kept quiet
	EndedAt   time.Time
}

// ParseMatcher checks a silence matcher: "payments" (a service) or
// "alertname=DiskFull,env=prod" (every label must match; "service" is the
// alert's service).
func ParseMatcher(m string) (string, error) {
	m = strings.TrimSpace(m)
	if m == "" {
		return "", Errorf(EINVALID, "a silence needs a service or label=value, like /silence payments 2h deploy")
	}
	if !strings.Contains(m, "=") {
		if strings.ContainsAny(m, ", ") {
			return "", Errorf(EINVALID, "%q is not a service name; match labels with label=value,label=value", m)
		}
		return m, nil
	}
	for _, pair := range strings.Split(m, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return "", Errorf(EINVALID, "%q is not label=value", pair)
		}
	}
	return m, nil
}

// Active reports whether the silence holds at t.
func (s *Silence) Active(t time.Time) bool {
	return s.EndedAt.IsZero() && !t.Before(s.From) && t.Before(s.Until)
}

// Matches reports whether an alert falls under the silence.
func (s *Silence) Matches(a Alert) bool {
	if !strings.Contains(s.Matcher, "=") {
		return strings.EqualFold(a.Service, s.Matcher)
	}
	for _, pair := range strings.Split(s.Matcher, ",") {
		k, v, _ := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		got := a.Labels[k]
		if k == "service" && got == "" {
			got = a.Service
		}
		if got != v {
			return false
		}
	}
	return true
}

// Describe is the silence in one line.
func (s *Silence) Describe(loc *time.Location) string {
	text := fmt.Sprintf("silence #%d on %s until %s by %s", s.ID, s.Matcher, s.Until.In(loc).Format("Mon 2 Jan 15:04 MST"), s.By)
	if s.Reason != "" {
		text += " (" + s.Reason + ")"
	}
	return text + fmt.Sprintf(": %d %s, %d %s so far", s.Alerts, Plural(s.Alerts, "alert", "alerts"), s.Incidents, Plural(s.Incidents, "incident", "incidents"))
}
