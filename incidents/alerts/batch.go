package alerts

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Batch is what one request carries, with its repeats collapsed: copies of
// an alert sent together (same fingerprint, status, start and labels) are
// one alert with a count. A megabyte of the same log line is then one
// alert to file, not half a million, while the incident still counts every
// copy. The first copy is the one kept (its title, payload, severity):
// filed one by one, the copies after it would only have joined its
// incident anyway.
type Batch struct {
	// Alerts are the distinct alerts, in the order first sent.
	Alerts []incidents.Alert
	// Repeats tells, for each of Alerts, how many alerts sent it stands for.
	Repeats []int
	// Sent counts the alerts sent: entries or non-blank lines.
	Sent int
	// Skipped counts the log records and lines read and left out because
	// their level says nothing is wrong (debug, info): a shipper sends
	// every line, and healthy ones are no incident.
	Skipped int
	// Of is, for each alert sent in order, its index in Alerts: kept only
	// while Sent is at most BatchLimits.KeepOrder, nil beyond.
	Of []int
}

// BatchLimits bound what ParseBatch reads.
type BatchLimits struct {
	// MaxAlerts is how many distinct alerts one request may carry; zero
	// means no limit. Repeats do not count: they cost nothing to file.
	MaxAlerts int
	// KeepOrder is the largest batch whose order is kept in Batch.Of.
	KeepOrder int
	// Grouping identifies Alertmanager's and Grafana's alerts (the config's grouping);
	// the zero value is the default one.
	Grouping Grouping
}

// TooManyAlertsError is ParseBatch refusing a request that carries more
// distinct alerts than BatchLimits.MaxAlerts.
type TooManyAlertsError struct{ Limit int }

func (e *TooManyAlertsError) Error() string {
	return fmt.Sprintf("more than %d distinct alerts in one request", e.Limit)
}

// lineCacheSize bounds how many distinct log lines ParseBatch remembers to
// skip parsing their repeats: enough for the lines of any real burst,
// without a map as large as a body of lines that are all different.
const lineCacheSize = 4096

// ParseBatch reads a payload from the named source, as Parse does, and
// collapses its repeats. It stops at the first distinct alert past
// lim.MaxAlerts, with a *TooManyAlertsError, having kept nothing more than
// the alerts before it.
func ParseBatch(source string, body []byte, lim BatchLimits) (*Batch, error) {
	c := &collector{b: &Batch{}, lim: lim, runs: map[string]*run{}}
	var err error
	switch source {
	case SourceAlertmanager:
		err = eachAlertmanagerAlert(body, lim.Grouping, c.add)
	case SourceGrafana:
		err = eachGrafanaAlert(body, lim.Grouping, c.add)
	case SourceGeneric:
		err = eachGeneric(body, c.add)
	case SourceLog:
		err = c.addLog(body, FramingAuto)
	default:
		err = fmt.Errorf("%w %q: use one of %s", ErrUnknownSource, source, strings.Join(Sources, ", "))
	}
	if err != nil {
		return nil, err
	}
	return c.b, nil
}

// collector builds a Batch one alert at a time.
type collector struct {
	b    *Batch
	lim  BatchLimits
	runs map[string]*run // by fingerprint: its latest run
}

// run is a stretch of one fingerprint's alerts with the same status and
// start. Copies collapse only within a run: firing, resolved and firing
// again is a story whose order matters; two pods' copies of one failure
// are not, so within a run they are told apart by their labels.
type run struct {
	status   incidents.AlertStatus
	startsAt time.Time
	first    int            // index in Alerts of the run's first alert
	byLabels map[string]int // labels key -> index in Alerts; made at the run's second alert
}

func (c *collector) add(a incidents.Alert) error {
	_, err := c.place(a)
	return err
}

// place files a in the batch and returns its index in Alerts.
func (c *collector) place(a incidents.Alert) (int, error) {
	r := c.runs[a.Fingerprint]
	if r == nil || r.status != a.Status || !r.startsAt.Equal(a.StartsAt) {
		i, err := c.push(a)
		if err != nil {
			return 0, err
		}
		c.runs[a.Fingerprint] = &run{status: a.Status, startsAt: a.StartsAt, first: i}
		return i, nil
	}
	if r.byLabels == nil {
		r.byLabels = map[string]int{labelsKey(c.b.Alerts[r.first].Labels): r.first}
	}
	key := labelsKey(a.Labels)
	if i, ok := r.byLabels[key]; ok {
		c.count(i)
		return i, nil
	}
	i, err := c.push(a)
	if err != nil {
		return 0, err
	}
	r.byLabels[key] = i
	return i, nil
}

func (c *collector) push(a incidents.Alert) (int, error) {
	if c.lim.MaxAlerts > 0 && len(c.b.Alerts) >= c.lim.MaxAlerts {
		return 0, &TooManyAlertsError{Limit: c.lim.MaxAlerts}
	}
	c.b.Alerts = append(c.b.Alerts, a)
	c.b.Repeats = append(c.b.Repeats, 0)
	i := len(c.b.Alerts) - 1
	c.count(i)
	return i, nil
}

// count records one alert sent as Alerts[i].
func (c *collector) count(i int) {
	c.b.Repeats[i]++
	c.b.Sent++
	if c.b.Sent <= c.lim.KeepOrder {
		c.b.Of = append(c.b.Of, i)
	} else {
		c.b.Of = nil
	}
}

// addLines reads log lines. A line seen before is not parsed again:
// readLine gives the same alert for the same line, always firing and with
// no start, so its copy lands where the first one did. The commonest flood,
// one line over and over, is counted a block of copies at a time. A line
// whose level says nothing is wrong is counted in Skipped (its index is
// skippedLine).
func (c *collector) addLines(body []byte) error {
	seen := map[string]int{}
	var unit []byte // the line before with its "\n", when sent exactly so
	at := 0         // its index in Alerts
	for len(body) > 0 {
		if unit != nil && bytes.HasPrefix(body, unit) {
			n := leadingCopies(body, unit)
			c.countN(at, n)
			body = body[n*len(unit):]
			continue
		}
		raw := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i+1], body[i+1:]
		} else {
			body = nil
		}
		line := bytes.TrimSpace(raw)
		if len(line) == 0 {
			continue
		}
		i, ok := seen[string(line)]
		if ok {
			c.countN(i, 1)
		} else {
			s := string(line)
			a, quiet := readLine(s)
			if quiet {
				i = skippedLine
				c.b.Skipped++
			} else {
				var err error
				if i, err = c.place(a); err != nil {
					return err
				}
			}
			if len(seen) < lineCacheSize {
				seen[s] = i
			}
		}
		at, unit = i, nil
		if len(raw) == len(line)+1 && raw[len(line)] == '\n' {
			unit = raw
		}
	}
	if c.b.Sent == 0 && c.b.Skipped == 0 {
		return ErrNoAlerts
	}
	return nil
}

// skippedLine stands for the index in Alerts of a line left out.
const skippedLine = -1

// leadingCopies counts how many times unit repeats at the start of body:
// one at a time for a short run, then a block of about 4 KiB at a time,
// one comparison per block.
func leadingCopies(body, unit []byte) int {
	n := 0
	for ; n < 64 && bytes.HasPrefix(body, unit); n++ {
		body = body[len(unit):]
	}
	if n < 64 {
		return n
	}
	per := max(1, 4096/len(unit))
	block := bytes.Repeat(unit, per)
	for bytes.HasPrefix(body, block) {
		body, n = body[len(block):], n+per
	}
	for bytes.HasPrefix(body, unit) {
		body, n = body[len(unit):], n+1
	}
	return n
}

// countN records n alerts sent as Alerts[i], or n lines left out when i
// is skippedLine.
func (c *collector) countN(i, n int) {
	if i == skippedLine {
		c.b.Skipped += n
		return
	}
	if c.b.Sent+n <= c.lim.KeepOrder {
		for range n {
			c.count(i)
		}
		return
	}
	c.b.Repeats[i] += n
	c.b.Sent += n
	c.b.Of = nil
}

// eachLine calls fn with every non-blank line of body, trimmed (a "\r\n"
// ending included), as a slice of body.
func eachLine(body []byte, fn func(line []byte) error) error {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return nil
}

// labelsKey is a label set as one comparable string. Each name and value
// is prefixed by its length, so that no two label sets share a key
// whatever bytes they hold.
func labelsKey(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	keys := make([]string, 0, len(labels))
	n := 0
	for k, v := range labels {
		keys = append(keys, k)
		n += len(k) + len(v) + 8
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	for _, k := range keys {
		for _, s := range []string{k, labels[k]} {
			b = strconv.AppendInt(b, int64(len(s)), 10)
			b = append(b, ':')
			b = append(b, s...)
		}
	}
	return string(b)
}
