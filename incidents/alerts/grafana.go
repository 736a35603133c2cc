package alerts

import "github.com/runbot-dev/runbot/incidents"

// ParseGrafana reads a Grafana unified alerting webhook (version "1").
func ParseGrafana(body []byte) ([]incidents.Alert, error) {
	var out []incidents.Alert
	err := eachGrafanaAlert(body, func(a incidents.Alert) error {
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachGrafanaAlert reads a Grafana webhook and hands each alert to fn in
// order. It is the one way in for Grafana payloads, so that Parse and
// ParseBatch read them alike.
func eachGrafanaAlert(body []byte, fn func(incidents.Alert) error) error {
	return eachWebhookAlert(body, SourceGrafana, "1", fn)
}
