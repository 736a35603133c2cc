package web

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// sourceName is an intake source as people call it.
func sourceName(source string) string {
	switch source {
	case "grafana":
		return "Grafana"
	case "alertmanager":
		return "Alertmanager"
	}
	return source
}

// testsSeen says, one line per source, when its last contact point test
// was received and from where. A failure to read shows nothing: a notice
// is not worth failing the board for, and the failure is logged.
func (c *Console) testsSeen(ctx context.Context) []string {
	tests, err := c.incidents.TestsReceived(ctx)
	if err != nil {
		c.logger.Warn("tests received not shown", "operation", "reading tests received", "error", err)
		return nil
	}
	loc := time.UTC
	if c.render != nil && c.render.Location != nil {
		loc = c.render.Location
	}
	var out []string
	for _, t := range tests {
		var b strings.Builder
		fmt.Fprintf(&b, "%s contact point test received %s", sourceName(t.Source), t.ReceivedAt.In(loc).Format("2 Jan 15:04"))
		if t.From != "" {
			fmt.Fprintf(&b, " from %s", t.From)
		}
		if t.Receiver != "" {
			fmt.Fprintf(&b, " (contact point %s)", t.Receiver)
		}
		out = append(out, b.String())
	}
	return out
}
