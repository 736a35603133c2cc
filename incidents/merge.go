package incidents

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// LinkTo relates two incidents: each timeline tells of the other. It
// changes neither incident; the caller refuses a pair already linked.
func (inc *Incident) LinkTo(other *Incident, at time.Time, actor string) (mine, theirs []Event, err error) {
	if inc.ID == other.ID {
		return nil, nil, Errorf(EINVALID, "an incident is related to itself already: /link %d <other incident>", inc.ID)
	}
	event := func(a, b *Incident) []Event {
		return []Event{{IncidentID: a.ID, At: at, Kind: EventLinked, Actor: actor, Related: b.ID,
			Text: fmt.Sprintf("linked to #%d (%s, %s): %s", b.ID, b.Priority, b.State, truncate(b.Title, 120))}}
	}
	return event(inc, other), event(other, inc), nil
}

// MergeInto files a duplicate into another incident: one cause that came
// under several fingerprints. into takes the duplicate's alert count and
// label breakdown (the caller moves the raw alerts and the timeline), and
// the duplicate is resolved, with MergedInto set so that its fingerprint
// files into into from now on. A merge never lowers urgency: into takes
// the duplicate's priority when that is more urgent. Nothing changes on a
// refusal.
func (inc *Incident) MergeInto(into *Incident, at time.Time, actor string, p Policy) (mine, theirs []Event, err error) {
	switch {
	case inc.ID == into.ID:
		return nil, nil, Errorf(EINVALID, "an incident cannot be merged into itself: /merge %d into <other incident>", inc.ID)
	case inc.MergedInto != 0:
		return nil, nil, Errorf(ECONFLICT, "%s was merged into #%d already", inc.Ref(), inc.MergedInto)
	case !into.State.Active():
		return nil, nil, Errorf(ECONFLICT, "%s is resolved: merge into an active incident (/reopen %d first if it is back)", into.Ref(), into.ID)
	case !inc.State.Active():
		return nil, nil, Errorf(ECONFLICT, "%s is resolved already: nothing left to merge", inc.Ref())
	}
	theirs = []Event{{IncidentID: into.ID, At: at, Kind: EventMerged, Actor: actor, Related: inc.ID,
		Text: fmt.Sprintf("merged #%d into this incident (%s %s: %s): its %d %s, label breakdown and timeline join; its fingerprint files here while this incident is active",
			inc.ID, inc.Priority, inc.Service, truncate(inc.Title, 120), inc.AlertCount, Plural(inc.AlertCount, "alert", "alerts"))}}
	if inc.Priority < into.Priority {
		// Cannot be refused: into is active and the priority valid and new.
		ev, err := into.SetPriority(inc.Priority, at, actor, fmt.Sprintf("#%d, merged into it, was %s", inc.ID, inc.Priority), p)
		if err != nil {
			return nil, nil, err
		}
		theirs = append(theirs, ev...)
	}
	into.AlertCount += inc.AlertCount
	// The merge's reply tells of these alerts: they are not repeats to
	// report later as "fired N more times".
	into.NoticedCount += inc.AlertCount
	if inc.LastSeenAt.After(into.LastSeenAt) {
		into.LastSeenAt = inc.LastSeenAt
	}
	into.Labels.Merge(inc.Labels)

	mine, err = inc.Resolve(at, actor, "")
	if err != nil {
		return nil, nil, err // cannot happen: inc is active
	}
	mine[0].Text, mine[0].Related = fmt.Sprintf("resolved: duplicate of #%d", into.ID), into.ID
	inc.MergedInto = into.ID
	return mine, theirs, nil
}

// Merge adds another breakdown's counts, under the same bounds as Add.
func (lc LabelCounts) Merge(o LabelCounts) {
	for _, name := range slices.Sorted(maps.Keys(o)) {
		if _, ok := lc[name]; !ok && len(lc) >= MaxLabels {
			continue
		}
		for _, vc := range o[name] {
			lc[name] = addValueN(lc[name], vc.Value, vc.Count)
		}
	}
}
