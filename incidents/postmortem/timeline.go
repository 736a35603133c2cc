package postmortem

import (
	"fmt"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// maxAlertRun is how many consecutive alert events the timeline lists one
// by one; a longer run is one line, since a storm of repeats would bury
// the human decisions the timeline is read for.
const maxAlertRun = 3

// inTimeline tells which events the Timeline section shows. The five-whys
// dialogue is the Root cause section's matter and a post-mortem event is
// about this very document; everything else (including kinds added later)
// is part of the story.
func inTimeline(e incidents.Event) bool {
	return e.Kind != incidents.EventFiveWhys && e.Kind != incidents.EventPostmortem
}

func timeline(b *strings.Builder, f Facts) {
	var shown []incidents.Event
	for _, e := range f.Incident.Timeline {
		if inTimeline(e) {
			shown = append(shown, e)
		}
	}
	if len(shown) == 0 {
		b.WriteString(toFill("no event was recorded; list what happened, when, and who did it") + "\n")
		return
	}
	for i := 0; i < len(shown); {
		j := i
		for j < len(shown) && shown[j].Kind == incidents.EventAlert {
			j++
		}
		if n := j - i; n > maxAlertRun {
			first, last := shown[i], shown[j-1]
			fmt.Fprintf(b, "- %s — **alert** ×%d: %d alert repeats between %s and %s; the last: %s\n",
				f.clock(first.At), n, n, f.clock(first.At), f.clock(last.At), oneLine(last.Text))
			i = j
			continue
		}
		b.WriteString(eventLine(f, shown[i]) + "\n")
		i++
	}
}

func eventLine(f Facts, e incidents.Event) string {
	s := fmt.Sprintf("- %s — **%s**", f.clock(e.At), strings.ReplaceAll(string(e.Kind), "_", " "))
	if e.Actor != "" {
		s += " (" + oneLine(e.Actor) + ")"
	}
	if t := oneLine(e.Text); t != "" {
		s += ": " + t
	}
	return s
}
