package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/incidents/alerts"
)

type metrics struct {
	received map[string]prometheus.Counter // by source, resolved once: intake is the hot path
	opened   map[string]prometheus.Counter
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runbot_alerts_received_total", Help: "Alerts stored, by source.",
	}, []string{"source"})
	opened := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runbot_incidents_opened_total", Help: "Incidents opened by incoming alerts, by source.",
	}, []string{"source"})
	m := &metrics{
		received: map[string]prometheus.Counter{},
		opened:   map[string]prometheus.Counter{},
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbot_intake_rejected_total", Help: "Intake requests refused, by source and reason.",
		}, []string{"source", "reason"}),
	}
	for _, src := range alerts.Sources {
		m.received[src] = received.WithLabelValues(src)
		m.opened[src] = opened.WithLabelValues(src)
	}
	reg.MustRegister(received, opened, m.rejected)
	return m
}
