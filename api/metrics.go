package api

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	received *prometheus.CounterVec
	opened   *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbot_alerts_received_total", Help: "Alerts durably stored, by source.",
		}, []string{"source"}),
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbot_incidents_opened_total", Help: "Incidents opened by incoming alerts, by source.",
		}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbot_intake_rejected_total", Help: "Intake requests refused, by source and reason.",
		}, []string{"source", "reason"}),
	}
	reg.MustRegister(m.received, m.opened, m.rejected)
	return m
}
