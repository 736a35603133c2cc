package sqlite

import (
	"maps"
	"slices"

	"github.com/runbot-dev/runbot/incidents"
)

// activeCache holds decoded active incidents for the writer goroutine, so
// that an alert joining its incident costs one UPDATE instead of a SELECT,
// a JSON decode and an UPDATE. Only the writer touches it. Entries mirror
// committed-or-pending state of the current transaction; whatever a rolled
// back write touched is forgotten (see wtx.onUndo) and reloaded from the
// database on next use.
type activeCache struct {
	byFP map[string]*incidents.Incident
	byID map[int64]*incidents.Incident
	max  int

	// silences are the silences not yet ended, nil when unknown: matching
	// an alert against them costs no query.
	silences *[]*incidents.Silence
}

func (c *activeCache) openSilences() ([]*incidents.Silence, bool) {
	if c.silences == nil {
		return nil, false
	}
	return *c.silences, true
}

// keepSilences keeps list as the open silences.
func (c *activeCache) keepSilences(list []*incidents.Silence) { c.silences = &list }

// dropSilences forgets the open silences: they are read again when needed.
func (c *activeCache) dropSilences() { c.silences = nil }

func newActiveCache(max int) *activeCache {
	return &activeCache{byFP: map[string]*incidents.Incident{}, byID: map[int64]*incidents.Incident{}, max: max}
}

func (c *activeCache) fingerprint(fp string) *incidents.Incident { return c.byFP[fp] }
func (c *activeCache) id(id int64) *incidents.Incident           { return c.byID[id] }

// put records inc's current state: kept while active, dropped once resolved.
func (c *activeCache) put(inc *incidents.Incident) {
	if !inc.State.Active() {
		c.forget(inc)
		return
	}
	if _, ok := c.byID[inc.ID]; !ok && len(c.byID) >= c.max {
		for _, old := range c.byID { // any entry: the map's order is random enough
			c.forget(old)
			break
		}
	}
	c.byID[inc.ID] = inc
	c.byFP[inc.Fingerprint] = inc
}

func (c *activeCache) forget(inc *incidents.Incident) {
	if cur, ok := c.byID[inc.ID]; ok {
		delete(c.byID, inc.ID)
		if c.byFP[cur.Fingerprint] == cur {
			delete(c.byFP, cur.Fingerprint)
		}
	}
	if c.byFP[inc.Fingerprint] == inc {
		delete(c.byFP, inc.Fingerprint)
	}
}

// sortedKeys is used by the label encoder for a stable column value.
func sortedKeys(lc incidents.LabelCounts) []string {
	return slices.Sorted(maps.Keys(lc))
}
