package loadgen

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
)

// AlertmanagerGroup builds one Alertmanager notification (webhook version 4)
// of n firing alerts, shaped as kube-prometheus sends KubePodCrashLooping
// when a bad rollout takes down a whole fleet: one group, the labels and
// annotations of the real rule, one pod per alert. At n = 1800 it is about
// 1.8 MB, a notification Alertmanager sends whole and never splits.
func AlertmanagerGroup(n int) []byte {
	const (
		expr    = `max_over_time(kube_pod_container_status_waiting_reason{job="kube-state-metrics",namespace=~".*",reason="CrashLoopBackOff"}[5m]) >= 1`
		started = "2026-11-24T23:05:42.276Z"
	)
	generator := "http://prometheus-k8s-0:9090/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
	namespaces := []string{"shop", "payments", "identity", "search", "documents", "notifications"}
	apps := []string{"checkout", "cart", "ledger", "user-sync", "indexer", "renderer", "mailer", "gateway"}
	var b bytes.Buffer
	b.Grow(n * 960)
	b.WriteString(`{"receiver":"runbot","status":"firing","alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ns, app := namespaces[i%len(namespaces)], apps[i%len(apps)]
		pod := fmt.Sprintf("%s-%07x-%05x", app, 0x7f9c8d6+i/50, 0x2a4c1+i*7919%0xfffff)
		fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"KubePodCrashLooping","container":%q,"endpoint":"http","instance":"10.244.%d.%d:8080","job":"kube-state-metrics","namespace":%q,"pod":%q,"prometheus":"monitoring/k8s","reason":"CrashLoopBackOff","service":"kube-prometheus-stack-kube-state-metrics","severity":"warning","uid":"%08x-%04x-4%03x-a%03x-%012x"},`,
			app, i/250, i%250+1, ns, pod, 0x3b2f0000+i, i%0xffff, i%0xfff, (i*7)%0xfff, 0x5e1d00000000+i)
		fmt.Fprintf(&b, `"annotations":{"description":"Pod %s/%s (%s) is in waiting state (reason: \"CrashLoopBackOff\").","runbook_url":"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping","summary":"Pod is crash looping."},`,
			ns, pod, app)
		fmt.Fprintf(&b, `"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":%q,"fingerprint":"%016x"}`,
			started, generator, 0x9e3779b97f4a7c15*uint64(i+1))
	}
	b.WriteString(`],"groupLabels":{"alertname":"KubePodCrashLooping"},"commonLabels":{"alertname":"KubePodCrashLooping","endpoint":"http","job":"kube-state-metrics","prometheus":"monitoring/k8s","reason":"CrashLoopBackOff","service":"kube-prometheus-stack-kube-state-metrics","severity":"warning"},`)
	b.WriteString(`"commonAnnotations":{"runbook_url":"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping","summary":"Pod is crash looping."},`)
	b.WriteString(`"externalURL":"http://alertmanager-main-0:9093","version":"4","groupKey":"{}/{severity=~\"warning|critical\"}:{alertname=\"KubePodCrashLooping\"}","truncatedAlerts":0}`)
	return b.Bytes()
}

// LogFlood is size bytes of one-byte log lines ("x\n"): the cheapest body
// to send and, read line by line, the dearest to take.
func LogFlood(size int) []byte {
	return []byte(strings.Repeat("x\n", size/2))
}

// DistinctLogLines is at most size bytes of story-shaped log lines, each a
// failure of a service of its own: nothing in it collapses.
func DistinctLogLines(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 32)
	for i := 0; ; i++ {
		line := fmt.Sprintf("[s%d] o: e\n", i)
		if b.Len()+len(line) > size {
			return b.Bytes()
		}
		b.WriteString(line)
	}
}

// NearIdenticalLogLines is at most size bytes of one failure logged over
// and over, each line for another user id: one alert once normalized, but
// every line must be read to know it.
func NearIdenticalLogLines(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 64)
	for i := 100000; ; i++ {
		line := fmt.Sprintf("[user-sync-service] creating user: POST /api/users/%d: 403\n", i)
		if b.Len()+len(line) > size {
			return b.Bytes()
		}
		b.WriteString(line)
	}
}
