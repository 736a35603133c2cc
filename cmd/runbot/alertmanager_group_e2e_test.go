package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// TestAlertmanagerBigGroupEndToEnd: a fleet-wide crash loop of 1,800 pods
// reaches a real Alertmanager, which sends it to runbot as ONE
// notification of about 1.6 MB (it never splits a group, and never
// retries a 4xx). runbot stores all 1,800 alerts from that first
// notification, and Alertmanager logs no failed delivery.
func TestAlertmanagerBigGroupEndToEnd(t *testing.T) {
	amBin := requireBinary(t, "prometheus-alertmanager", "alertmanager")
	const token = "e2e-token-big-group"
	cfg := config.Default()
	cfg.IntakeToken = token
	b := startBot(t, cfg)
	am := newAlertmanager(t, amBin, b.logs)
	am.start(b.url, token, "3s", "1h") // group_wait long enough for the whole fleet to be one notification

	const pods = 1800
	var body strings.Builder
	body.WriteString("[")
	for i := range pods {
		if i > 0 {
			body.WriteString(",")
		}
		ns := fmt.Sprintf("team-%02d", i%24)
		fmt.Fprintf(&body, `{"labels":{"alertname":"KubePodCrashLooping","severity":"warning","namespace":%q,
			"pod":"checkout-7d9f8b6c5-%05d","container":"checkout","job":"kube-state-metrics",
			"service":"prometheus-kube-state-metrics","endpoint":"http","instance":"10.0.%d.%d:8080",
			"uid":"4f1c6b2e-0c3a-4d8e-9a51-%012d","prometheus":"monitoring/kube-prometheus-stack-prometheus"},
			"annotations":{"summary":"Pod is crash looping.",
			"description":"Pod %s/checkout-7d9f8b6c5-%05d (checkout) is in waiting state (reason: \"CrashLoopBackOff\").",
			"runbook_url":"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"},
			"generatorURL":"http://prometheus.example:9090/graph?g0.expr=max_over_time%%28kube_pod_container_status_waiting_reason%%7Breason%%3D%%22CrashLoopBackOff%%22%%7D%%5B5m%%5D%%29+%%3E%%3D+1"}`,
			ns, i, i/250, i%250, i, ns, i)
	}
	body.WriteString("]")
	am.post(body.String())

	received := regexp.MustCompile(`(?m)^runbot_alerts_received_total\{source="alertmanager"\} (\d+)$`)
	eventually(t, 60*time.Second, "every alert of the group stored", func() (bool, string) {
		resp, err := http.Get(b.url + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := received.FindSubmatch(text)
		if m == nil {
			return false, "no alertmanager alerts yet"
		}
		return string(m[1]) == fmt.Sprint(pods), "received " + string(m[1])
	})
	total := 0
	for _, inc := range listIncidents(t, b.url, token, "?limit=1000") {
		total += inc.AlertCount
		if inc.Service == "prometheus-kube-state-metrics" {
			t.Errorf("#%d is filed under the exporter, not the workload", inc.ID)
		}
	}
	if total != pods {
		t.Errorf("the incidents hold %d alerts, want %d", total, pods)
	}
	if strings.Contains(b.logs.String(), "rejected alerts") {
		t.Errorf("runbot refused part of the group:\n%s", b.logs)
	}
	logs, _ := os.ReadFile(am.log)
	if strings.Contains(string(logs), "Notify for alerts failed") || strings.Contains(string(logs), "level=error") {
		t.Errorf("Alertmanager failed to deliver the group:\n%s", logs)
	}
}
