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
	// defaultMorningTimeout bounds the digest inside a board request: the
	// board is what people act on during an incident, and a slow digest
	// must cost it a message, not the page.
	defaultMorningTimeout = 5 * time.Second
	// overnightShown is how many overnight lines the home page keeps: a
	// night with an alert storm would otherwise push the board off the
	// screen. /morning has them all.
	overnightShown = 10
	// greenOpen is how many green services the home page lists openly;
	// beyond it they fold behind their count, since a quiet service needs
	// no reading and a large catalog would take screens on a phone.
	greenOpen = 30
	// noService is the digest's bucket for incidents without a service: it
	// has no runbook to link to.
	noService = "(no service)"
)

// morningView is the morning check as the templates show it.
type morningView struct {
	Err       string // set when the check could not be computed; nothing else is then
	Full      bool   // the /morning page: nothing clipped or folded
	At, Since string // as read
	AtISO     string // for <time datetime>
	SinceISO  string
	Red       int
	Orange    int
	Green     int
	Groups    []morningGroup // red, then orange; only those with services
	GreenOnes []morningName
	Fold      bool // the green names sit behind a <details>
	Overnight []string
	Total     int // overnight lines in all
	// Earlier counts the overnight lines left out on the home page (the
	// earliest ones: the latest say more about the morning).
	Earlier int
}

// morningGroup is the services of one colour.
type morningGroup struct {
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
	return "●", "Green: all well"
}

// runbookURL links a service's runbook, escaped as one path segment: a
// service name may hold a slash.
func runbookURL(service string) string {
	if service == noService {
		return ""
	}
	return "/runbooks/" + url.PathEscape(service)
}

// newMorningView shapes a digest for the page. full keeps every line;
// otherwise overnight is clipped and a long green list folded.
func newMorningView(m digest.Morning, full bool) *morningView {
	v := &morningView{Full: full, At: m.At.Format("Mon 2 Jan 15:04"), AtISO: m.At.Format(time.RFC3339),
		Since: m.Since.Format("Mon 2 Jan 15:04"), SinceISO: m.Since.Format(time.RFC3339),
		Red: m.Counts[digest.Red], Orange: m.Counts[digest.Orange], Green: m.Counts[digest.Green]}
	for _, c := range []digest.Colour{digest.Red, digest.Orange} {
		icon, heading := colourWord(c)
		g := morningGroup{Colour: string(c), Icon: icon, Word: string(c), Heading: heading}
		for _, s := range m.Services {
			if s.Colour != c {
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
		if s.Colour == digest.Green {
			v.GreenOnes = append(v.GreenOnes, morningName{Name: s.Service, Runbook: runbookURL(s.Service)})
		}
	}
	v.Fold = !full && len(v.GreenOnes) > greenOpen
	v.Overnight, v.Total = m.Overnight, len(m.Overnight)
	if !full && len(v.Overnight) > overnightShown {
		v.Earlier = len(v.Overnight) - overnightShown
		v.Overnight = v.Overnight[v.Earlier:]
	}
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

// morning computes the check for a page. A failure is shown in the
// section and logged, never returned: the board around it must still load.
func (c *Console) morning(ctx context.Context, full bool) *morningView {
	if c.morningCheck == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.morningTimeout)
	defer cancel()
	m, err := c.morningCheck(ctx)
	if err != nil {
		err = fmt.Errorf("computing the morning check: %w", err)
		why := incidents.ErrorMessage(err)
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("it took more than %s", c.morningTimeout)
		}
		c.logger.Error("morning check failed", "operation", "computing the morning check", "error", err)
		return &morningView{Full: full, Err: "The morning check could not be computed: " + why +
			". It is tried again at the next update or reload."}
	}
	return newMorningView(m, full)
}

// morningPage is the check on a page of its own: the home page's section
// with nothing clipped, the whole night and every green service named.
func (c *Console) morningPage(w http.ResponseWriter, r *http.Request, user string) {
	c.renderPage(w, r, "morning", pageData{Title: "Morning check", User: user, Morning: c.morning(r.Context(), true)})
}

func (c *Console) morningFragment(w http.ResponseWriter, r *http.Request, user string) {
	c.renderFragment(w, "morning", "morning", pageData{Morning: c.morning(r.Context(), true)})
}
