package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
