package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// boardLimit is how many of the most urgent incidents the board shows: a
// storm of thousands must not make the page unreadable or slow; filters
// reach the others.
const boardLimit = 200

// boardView is the board as its template shows it.
type boardView struct {
	Rows     []boardRow
	Groups   []boardGroup // the rows under their service, when grouped
	Resolved []*incidents.Incident
	Filter   boardFilter
	// The filter form's choices, the current one selected.
	Services, Priorities, States, GroupBy []option
	Clipped                               bool // boardLimit rows shown: there may be more
}

type boardRow struct {
	ID                         int64
	Priority, Service, Title   string
	State, Assignee            string
	Alerts                     int
	Status                     bot.Status
	Icon, Word                 string
	CanAck                     bool
	AckPending, RestorePending bool
	AckDue, RestoreDue         string // RFC 3339, counted down in the browser
	AckText, RestoreText       string
}

// boardGroup is one service's rows, when the board is grouped.
type boardGroup struct {
	Service string
	Rows    []boardRow
	Red     int
}

type option struct {
	Value, Text string
	Selected    bool
}

// boardFilter is what the board's URL asks for:
// ?service=checkout&priority=P1,P2&state=open&group=service. A link shows
// the same view, and the live refresh asks for it again.
type boardFilter struct {
	Service    string
	Priorities []incidents.Priority
	States     []incidents.State
	Group      string // "" or "service"
}

// parseBoardFilter reads the filters; a list is comma-separated or
// repeated (priority=P1&priority=P2, as checkboxes send it).
func parseBoardFilter(q url.Values) (boardFilter, error) {
	f := boardFilter{Service: strings.TrimSpace(q.Get("service"))}
	for _, v := range listValues(q["priority"]) {
		p, err := incidents.ParsePriority(v)
		if err != nil {
			return boardFilter{}, err
		}
		if !slices.Contains(f.Priorities, p) {
			f.Priorities = append(f.Priorities, p)
		}
	}
	slices.Sort(f.Priorities)
	for _, v := range listValues(q["state"]) {
		if strings.EqualFold(v, "active") {
			continue
		}
		st, err := incidents.ParseState(v)
		if err != nil || !st.Active() {
			return boardFilter{}, incidents.Errorf(incidents.EINVALID,
				"the board shows active incidents: state is open, acknowledged or mitigated, not %q", v)
		}
		if !slices.Contains(f.States, st) {
			f.States = append(f.States, st)
		}
	}
	slices.SortFunc(f.States, func(a, b incidents.State) int {
		return slices.Index(incidents.States[:], a) - slices.Index(incidents.States[:], b)
	})
	switch g := strings.ToLower(strings.TrimSpace(q.Get("group"))); g {
	case "", "none":
	case "service":
		f.Group = g
	default:
		return boardFilter{}, incidents.Errorf(incidents.EINVALID, "group the board by service (group=service), not by %q", g)
	}
	return f, nil
}

func listValues(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// Narrowed reports whether the board shows less than every active incident.
func (f boardFilter) Narrowed() bool {
	return f.Service != "" || len(f.Priorities) > 0 || len(f.States) > 0
}

func (f boardFilter) priorityValue() string {
	var ps []string
	for _, p := range f.Priorities {
		ps = append(ps, p.String())
	}
	return strings.Join(ps, ",")
}

func (f boardFilter) stateValue() string {
	var ss []string
	for _, s := range f.States {
		ss = append(ss, string(s))
	}
	return strings.Join(ss, ",")
}

// choices builds the form's options, offering the common views and the
// current one when a link asked for another.
func choices(current string, common []option) []option {
	found := false
	for i := range common {
		if common[i].Value == current {
			common[i].Selected, found = true, true
		}
	}
	if !found {
		common = append(common, option{Value: current, Text: current, Selected: true})
	}
	return common
}

// statusWord pairs a status with a shape and its default word: colour is
// never the only signal, and plain symbols render where emoji fonts are
// missing. A card's own word (Card.Word) says more and goes first.
func statusWord(s bot.Status) (icon, word string) {
	switch s {
	case bot.StatusBreach:
		return "■", "breach"
	case bot.StatusWatch:
		return "▲", "watch"
	case bot.StatusRestored:
		return "◆", "restored"
	case bot.StatusResolved:
		return "✓", "resolved"
	}
	return "●", "on time"
}

func (c *Console) boardData(ctx context.Context, f boardFilter) (pageData, error) {
	active, err := c.incidents.FindIncidents(ctx, incidents.IncidentFilter{ByUrgency: true, Service: f.Service,
		Priorities: f.Priorities, States: f.States, Limit: boardLimit})
	if err != nil {
		return pageData{}, err
	}
	v := boardView{Filter: f, Clipped: len(active) == boardLimit}
	if len(f.States) == 0 { // a board narrowed to some states does not want the resolved ones either
		if v.Resolved, err = c.incidents.FindIncidents(ctx, incidents.IncidentFilter{States: []incidents.State{incidents.StateResolved},
			Service: f.Service, Priorities: f.Priorities, Limit: 10}); err != nil {
			return pageData{}, err
		}
	}
	services := c.runbooks.Services()
	for _, inc := range active {
		row := c.boardRow(inc)
		v.Rows = append(v.Rows, row)
		if !slices.Contains(services, inc.Service) {
			services = append(services, inc.Service)
		}
		if f.Group == "service" {
			// Rows come most urgent first: a service's group stands where
			// its most urgent incident does.
			i := slices.IndexFunc(v.Groups, func(g boardGroup) bool { return g.Service == inc.Service })
			if i < 0 {
				v.Groups, i = append(v.Groups, boardGroup{Service: inc.Service}), len(v.Groups)
			}
			v.Groups[i].Rows = append(v.Groups[i].Rows, row)
			if row.Status == bot.StatusBreach {
				v.Groups[i].Red++
			}
		}
	}
	if f.Service != "" && !slices.Contains(services, f.Service) {
		services = append(services, f.Service)
	}
	slices.Sort(services)
	v.Services = []option{{Value: "", Text: "all services"}}
	for _, s := range services {
		v.Services = append(v.Services, option{Value: s, Text: s, Selected: s == f.Service})
	}
	v.Services[0].Selected = f.Service == ""
	v.Priorities = choices(f.priorityValue(), []option{{Value: "", Text: "any priority"}, {Value: "P1", Text: "P1"},
		{Value: "P1,P2", Text: "P1–P2"}, {Value: "P1,P2,P3", Text: "P1–P3"}, {Value: "P3", Text: "P3"}, {Value: "P4,P5", Text: "P4–P5"}})
	v.States = choices(f.stateValue(), []option{{Value: "", Text: "all active"}, {Value: "open", Text: "open"},
		{Value: "acknowledged", Text: "acknowledged"}, {Value: "open,acknowledged", Text: "not restored"}, {Value: "mitigated", Text: "restored"}})
	v.GroupBy = choices(f.Group, []option{{Value: "", Text: "no grouping"}, {Value: "service", Text: "by service"}})
	return pageData{Title: "Board", Board: v}, nil
}

// boardRow is an incident's line: its card's colour and word, its clocks,
// and whether it can be acknowledged from there.
func (c *Console) boardRow(inc *incidents.Incident) boardRow {
	card := c.render.Card(inc)
	icon, word := statusWord(card.Status)
	if card.Word != "" {
		word = card.Word
	}
	row := boardRow{ID: inc.ID, Priority: inc.Priority.String(), Service: inc.Service, Title: card.Title, State: string(inc.State),
		Assignee: inc.Assignee, Alerts: inc.AlertCount, Status: card.Status, Icon: icon, Word: word,
		CanAck:     inc.State == incidents.StateOpen,
		AckPending: inc.AcknowledgedAt.IsZero(), RestorePending: inc.MitigatedAt.IsZero(),
		AckDue: inc.AckDue.Format(time.RFC3339), RestoreDue: inc.RestoreDue.Format(time.RFC3339)}
	for _, f := range card.Fields {
		switch f.Name {
		case "Acknowledge":
			row.AckText = f.Value
		case "Restore":
			row.RestoreText = f.Value
		}
	}
	return row
}

func (c *Console) board(w http.ResponseWriter, r *http.Request, user string) {
	f, err := parseBoardFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, "reading the board's filters", err)
		return
	}
	d, err := c.boardData(r.Context(), f)
	if err != nil {
		c.fail(w, r, "showing the board", err)
		return
	}
	d.User, d.Said = user, r.URL.Query().Get("said")
	d.Morning = c.morning(r.Context())
	d.Tests = c.testsSeen(r.Context())
	c.renderPage(w, r, "board", d)
}

// boardFragment is the live refresh: the board under the same filters
// (the page passes its query on), and the morning check's counts, so that
// a strip left as it was at page load does not contradict the board below
// it on a screen left open all day.
func (c *Console) boardFragment(w http.ResponseWriter, r *http.Request, user string) {
	f, err := parseBoardFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, "reading the board's filters", err)
		return
	}
	d, err := c.boardData(r.Context(), f)
	if err != nil {
		c.fail(w, r, "refreshing the board", err)
		return
	}
	d.Morning = c.morning(r.Context())
	c.renderFragment(w, "board", "boardfragment", d)
}
