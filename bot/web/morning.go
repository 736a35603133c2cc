package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
)

const (
	// defaultMorningTimeout bounds the digest inside a board request (its
	// strip of counts): the board is what people act on during an
	// incident, and a slow digest must cost it a message, not the page.
	defaultMorningTimeout = 5 * time.Second
	// morningTTL is how long a morning check computed is shown when no
	// event came since: the statuses that change with the clock alone (a
	// deadline passing with nothing said of it) show within it. Any
	// change computes it again for the pages that refresh.
	morningTTL = 10 * time.Second
	// noService is the digest's bucket for incidents without a service: it
	// has no runbook to link to.
	noService = "(no service)"
)

// morningView is the morning check as the templates show it: whole on
// /morning, its counts on the board's strip.
type morningView struct {
	Err       string // set when the check could not be computed; nothing else is then
	At, Since string // as read
	AtISO     string // for <time datetime>
	SinceISO  string
	Red       int
	Orange    int
	Green     int
	// Groups are red, then orange, then green services with an incident
	// on time; only those with services.
	Groups    []morningGroup
	GreenOnes []morningName // the quiet services
	Overnight []string
}

// morningGroup is the services of one colour.
type morningGroup struct {
	ID                          string // morning-red, morning-orange, morning-on-time (green with incidents)
	Colour, Icon, Word, Heading string
	Services                    []morningService
}

type morningService struct {
	Name, Runbook string
	Colour        string
	Icon, Word    string
	Reasons       [][]segment
}

type morningName struct{ Name, Runbook string }

// segment is a piece of a reason: text, or an incident reference to link.
type segment struct {
	Text string
	ID   int64
}

// colourWord pairs a colour with a shape and a heading, in the board's
// vocabulary (■ for what needs acting on, ▲ for what to watch, ● for
// fine), so that colour is never the only signal.
func colourWord(c digest.Colour) (icon, heading string) {
	switch c {
	case digest.Red:
		return "■", "Red: act now"
	case digest.Orange:
		return "▲", "Orange: to watch"
	}
	return "●", "Green: on time"
}

// runbookURL links a service's runbook, escaped as one path segment: a
// service name may hold a slash.
func runbookURL(service string) string {
	if service == noService {
		return ""
	}
	return "/runbooks/" + url.PathEscape(service)
}

// newMorningView shapes a digest for the page, in the digest's order
// (most urgent first within a colour).
func newMorningView(m digest.Morning) *morningView {
	v := &morningView{At: m.At.Format("Mon 2 Jan 15:04"), AtISO: m.At.Format(time.RFC3339),
		Since: m.Since.Format("Mon 2 Jan 15:04"), SinceISO: m.Since.Format(time.RFC3339),
		Red: m.Counts[digest.Red], Orange: m.Counts[digest.Orange], Green: m.Counts[digest.Green]}
	for _, c := range []digest.Colour{digest.Red, digest.Orange, digest.Green} {
		icon, heading := colourWord(c)
		g := morningGroup{ID: "morning-" + string(c), Colour: string(c), Icon: icon, Word: string(c), Heading: heading}
		if c == digest.Green {
			g.ID = "morning-on-time" // morning-green is the quiet services'
		}
		for _, s := range m.Services {
			if s.Colour != c || len(s.Reasons) == 0 {
				continue
			}
			svc := morningService{Name: s.Service, Runbook: runbookURL(s.Service), Colour: g.Colour, Icon: icon, Word: g.Word}
			for _, r := range s.Reasons {
				svc.Reasons = append(svc.Reasons, linkRefs(r, s.Incidents))
			}
			g.Services = append(g.Services, svc)
		}
		if len(g.Services) > 0 {
			v.Groups = append(v.Groups, g)
		}
	}
	for _, s := range m.Services {
		if s.Colour == digest.Green && len(s.Reasons) == 0 {
			v.GreenOnes = append(v.GreenOnes, morningName{Name: s.Service, Runbook: runbookURL(s.Service)})
		}
	}
	v.Overnight = m.Overnight
	return v
}

// linkRefs cuts a reason into text and links to its incidents. Only the
// references before the first ": " are linked: the digest puts the
// incident's title after it, and a title's "#5" is someone's words, not
// necessarily incident 5. Only the service's own incidents are linked.
func linkRefs(reason string, ids []int64) []segment {
	head, tail, cut := strings.Cut(reason, ": ")
	var out []segment
	text := func(s string) {
		if s == "" {
			return
		}
		if n := len(out); n > 0 && out[n-1].ID == 0 {
			out[n-1].Text += s
			return
		}
		out = append(out, segment{Text: s})
	}
	for head != "" {
		i := strings.IndexByte(head, '#')
		if i < 0 {
			text(head)
			break
		}
		text(head[:i])
		j := i + 1
		for j < len(head) && head[j] >= '0' && head[j] <= '9' {
			j++
		}
		id, err := strconv.ParseInt(head[i+1:j], 10, 64)
		if err != nil || !slices.Contains(ids, id) {
			text(head[i:j])
		} else {
			out = append(out, segment{Text: head[i:j], ID: id})
		}
		head = head[j:]
	}
	if cut {
		text(": " + tail)
	}
	return out
}

// morning is the check for a page, computed once per change for every
// page that asks (see perChange): after an event, every open board and
// morning page refreshes at once. A failure is logged once and shown in
// the section, never returned: the board around it must still load. The
// view is shared between pages: nothing may change it.
func (c *Console) morning(ctx context.Context) *morningView {
	if c.morningCheck == nil {
		return nil
	}
	compute := func() (*morningView, error) {
		// Others may be waiting for this computation: the page that
		// started it leaving must not cancel it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.morningTimeout)
		defer cancel()
		m, err := c.morningCheck(ctx)
		if err != nil {
			err = fmt.Errorf("computing the morning check: %w", err)
			c.logger.Error("morning check failed", "operation", "computing the morning check", "error", err)
			return nil, err
		}
		return newMorningView(m), nil
	}
	var v *morningView
	var err error
	if c.hub != nil {
		v, err = c.hub.morning.get(ctx, c.hub.Generation, time.Now, morningTTL, compute)
	} else {
		v, err = compute()
	}
	if err != nil {
		why := incidents.ErrorMessage(err)
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("it took more than %s", c.morningTimeout)
		}
		return &morningView{Err: "The morning check could not be computed: " + why +
			". It is tried again at the next update or reload."}
	}
	return v
}

// morningPage is the check on a page of its own, the board's strip
// leading there: every service by colour with its reasons, the whole
// night, every green service named.
func (c *Console) morningPage(w http.ResponseWriter, r *http.Request, user string) {
	c.renderPage(w, r, "morning", pageData{Title: "Morning check", User: user, Morning: c.morning(r.Context())})
}

func (c *Console) morningFragment(w http.ResponseWriter, r *http.Request, user string) {
	c.renderFragment(w, "morning", "morning", pageData{Morning: c.morning(r.Context())})
}
