package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/incidents"
)

// metrics are runbot's own, beside those of the API.
type metrics struct {
	batchSize     prometheus.Histogram
	commitSeconds prometheus.Histogram
	deliveries    *prometheus.CounterVec
	deliveryWait  prometheus.Histogram
	lateness      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "runbot_store_batch_writes", Help: "Writes committed together in one transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "runbot_store_commit_seconds", Help: "Time to run and commit a batch of writes.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbot_chat_deliveries_total", Help: "Chat messages tried, by platform and outcome (delivered, retry, failed).",
		}, []string{"platform", "outcome"}),
		deliveryWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "runbot_chat_delivery_wait_seconds", Help: "Time from queueing a chat message to its delivery.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
		}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "runbot_deadline_lateness_seconds", Help: "How late reminders and other deadlines fired.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	reg.MustRegister(m.batchSize, m.commitSeconds, m.deliveries, m.deliveryWait, m.lateness)
	return m
}

// registerOutboxStuck exports the outbox alarm, for an alerting rule that
// does not need to know the threshold: 1 while chat messages are stuck.
func registerOutboxStuck(reg prometheus.Registerer, stuck func() bool) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "runbot_outbox_stuck", Help: "1 while the oldest chat message waiting is older than outbox_alarm, else 0.",
	}, func() float64 {
		if stuck() {
			return 1
		}
		return 0
	}))
}

// registerHeartbeat exports the dead-man's switch: when this replica
// last heard the heartbeat alert (no sample before the first) and the
// period after which silence counts as a broken alert pipeline. An alerting
// rule in Prometheus then tells that silence when runbot's own incident
// about it cannot reach anyone (the chat is down too): the maximum across
// replicas is the last heartbeat any of them heard.
func registerHeartbeat(reg prometheus.Registerer, last func() (time.Time, bool), period time.Duration) {
	reg.MustRegister(&heartbeatCollector{last: last, period: period,
		lastDesc: prometheus.NewDesc("runbot_heartbeat_last_seen_timestamp_seconds",
			"When this replica last heard the heartbeat alert (heartbeat.alert), as a Unix time.", nil, nil),
		periodDesc: prometheus.NewDesc("runbot_heartbeat_period_seconds",
			"Silence of the heartbeat after which runbot opens an incident about the alert pipeline (heartbeat.period).", nil, nil),
	})
}

type heartbeatCollector struct {
	last                 func() (time.Time, bool)
	period               time.Duration
	lastDesc, periodDesc *prometheus.Desc
}

func (c *heartbeatCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastDesc
	ch <- c.periodDesc
}

func (c *heartbeatCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.periodDesc, prometheus.GaugeValue, c.period.Seconds())
	if at, ok := c.last(); ok {
		ch <- prometheus.MustNewConstMetric(c.lastDesc, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
}

// registerFreeSpace exports the database disk's free bytes: a full disk
// stops intake, and an alert on this gauge comes before it.
func registerFreeSpace(reg prometheus.Registerer, free func() (uint64, error)) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "runbot_db_disk_free_bytes", Help: "Bytes left on the file system of runbot's database.",
	}, func() float64 {
		n, err := free()
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// lowDiskBelow is the free space under which runbot says it is degraded:
// a few minutes of an alert storm's writes and one WAL checkpoint.
const lowDiskBelow = 64 << 20

// lowDisk says how little space is left when it is below lowDiskBelow.
func lowDisk(free func() (uint64, error), path string) string {
	n, err := free()
	if err != nil || n >= lowDiskBelow {
		return ""
	}
	return fmt.Sprintf("the database's disk is nearly full: %d MiB left for %s", n>>20, path)
}

func (m *metrics) observeBatch(n int, took time.Duration) {
	m.batchSize.Observe(float64(n))
	m.commitSeconds.Observe(took.Seconds())
}

func (m *metrics) observeDelivery(platform, outcome string, waited time.Duration) {
	m.deliveries.WithLabelValues(platform, outcome).Inc()
	if outcome == "delivered" {
		m.deliveryWait.Observe(waited.Seconds())
	}
}

func (m *metrics) observeFired(_ string, late time.Duration) {
	m.lateness.Observe(max(late, 0).Seconds())
}

// storeCollector reads incident figures from the store at scrape time:
// TTA and TRS histograms, active incidents, breaches, the outbox's depth.
// Kept in the store, they survive restarts and agree with the API.
type storeCollector struct {
	stats   func(context.Context) (incidents.Stats, error) // the same shape from either store
	pending func(context.Context) (int, time.Duration, error)
	asks    func(context.Context) (incidents.AskStats, error)
	logger  *slog.Logger

	tta, trs, active, breaches, outboxDepth, outboxAge *prometheus.Desc
	asksOpen, askResponse                              *prometheus.Desc
	buckets, askBuckets                                []float64
}

func newStoreCollector(svc service, outbox outboxStore, asks askStore, logger *slog.Logger) *storeCollector {
	return &storeCollector{
		stats: svc.Stats, pending: outbox.Pending, asks: asks.Stats, logger: logger,
		tta: prometheus.NewDesc("runbot_incident_tta_seconds", "Time to acknowledge of incidents, by priority and service.",
			[]string{"priority", "service"}, nil),
		trs: prometheus.NewDesc("runbot_incident_trs_seconds", "Time to restore service of incidents, by priority and service.",
			[]string{"priority", "service"}, nil),
		active: prometheus.NewDesc("runbot_incidents_active", "Active incidents, by priority and state.",
			[]string{"priority", "state"}, nil),
		breaches: prometheus.NewDesc("runbot_sla_breaches_total", "SLA breaches recorded, by the incident's priority.",
			[]string{"priority"}, nil),
		outboxDepth: prometheus.NewDesc("runbot_outbox_pending", "Chat messages waiting to be delivered.", nil, nil),
		outboxAge: prometheus.NewDesc("runbot_outbox_oldest_seconds", "Age of the oldest chat message waiting (0 when none).",
			nil, nil),
		// One minute to four days: a TTA of seconds and a TRS of days both land.
		buckets: []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 345600},
		asksOpen: prometheus.NewDesc("runbot_asks_open", "Asks from other teams waiting for an answer, by team channel.",
			[]string{"channel"}, nil),
		// By how too: a relay or an incident is a slower, heavier answer
		// than a reply. Channels are the configured few, hows four.
		askResponse: prometheus.NewDesc("runbot_ask_response_seconds", "Time from an ask to its answer, by team channel and how it was answered (reply, reaction, relayed, incident).",
			[]string{"channel", "how"}, nil),
		// One minute to three days, around the usual 30-minute threshold; a
		// Friday evening ask answered on Monday lands too.
		askBuckets: []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200},
	}
}

// hist is a histogram computed at scrape time.
type hist struct {
	count  uint64
	sum    float64
	bucket map[float64]uint64
}

func (h *hist) observe(d time.Duration, buckets []float64) {
	if h.bucket == nil {
		// Every bound, empty ones too: a series missing some buckets does
		// not line up with the others in histogram_quantile.
		h.bucket = make(map[float64]uint64, len(buckets))
		for _, b := range buckets {
			h.bucket[b] = 0
		}
	}
	h.count++
	h.sum += d.Seconds()
	for _, b := range buckets {
		if d.Seconds() <= b {
			h.bucket[b]++
		}
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tta, c.trs, c.active, c.breaches, c.outboxDepth, c.outboxAge, c.asksOpen, c.askResponse} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		c.logger.Error("reading metrics failed", "operation", "collecting metrics", "error", err)
		ch <- prometheus.NewInvalidMetric(c.active, err)
		return
	}
	type key struct{ priority, service string }
	observe := func(m map[key]*hist, k key, d time.Duration) {
		h := m[k]
		if h == nil {
			h = &hist{}
			m[k] = h
		}
		h.observe(d, c.buckets)
	}
	tta, trs := map[key]*hist{}, map[key]*hist{}
	for _, t := range st.Times {
		k := key{t.Priority.String(), t.Service}
		observe(tta, k, t.TTA)
		if t.TRS > 0 {
			observe(trs, k, t.TRS)
		}
	}
	for desc, m := range map[*prometheus.Desc]map[key]*hist{c.tta: tta, c.trs: trs} {
		for k, h := range m {
			ch <- prometheus.MustNewConstHistogram(desc, h.count, h.sum, h.bucket, k.priority, k.service)
		}
	}
	for _, p := range []incidents.Priority{incidents.P1, incidents.P2, incidents.P3, incidents.P4, incidents.P5} {
		for _, s := range incidents.States {
			if s.Active() {
				ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(st.Active[p][s]), p.String(), string(s))
			}
		}
		ch <- prometheus.MustNewConstMetric(c.breaches, prometheus.CounterValue, float64(st.Breaches[p]), p.String())
	}
	n, oldest, err := c.pending(ctx)
	if err != nil {
		c.logger.Error("reading the outbox failed", "operation", "collecting metrics", "error", err)
		ch <- prometheus.NewInvalidMetric(c.outboxDepth, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.outboxDepth, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.outboxAge, prometheus.GaugeValue, oldest.Seconds())
	c.collectAsks(ctx, ch)
}

func (c *storeCollector) collectAsks(ctx context.Context, ch chan<- prometheus.Metric) {
	st, err := c.asks(ctx)
	if err != nil {
		c.logger.Error("reading asks failed", "operation", "collecting metrics", "error", err)
		ch <- prometheus.NewInvalidMetric(c.asksOpen, err)
		return
	}
	for channel, n := range st.Open {
		ch <- prometheus.MustNewConstMetric(c.asksOpen, prometheus.GaugeValue, float64(n), channel)
	}
	type key struct{ channel, how string }
	times := map[key]*hist{}
	for _, t := range st.Answered {
		k := key{t.Channel, t.How}
		if times[k] == nil {
			times[k] = &hist{}
		}
		times[k].observe(t.Response, c.askBuckets)
	}
	for k, h := range times {
		ch <- prometheus.MustNewConstHistogram(c.askResponse, h.count, h.sum, h.bucket, k.channel, k.how)
	}
}
