package postmortem

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Paris without relying on the machine's zoneinfo

	"github.com/runbot-dev/runbot/incidents"
)

func paris(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatalf("loading Europe/Paris: %v", err)
	}
	return loc
}

// checkoutFacts is a realistic P2 incident: a checkout outage opened as P3
// from Alertmanager, requalified to P2 (a TTA breach), reminded about,
// mitigated by a config change and resolved the next morning, with two
// five-whys chains worth reporting and one abandoned.
func checkoutFacts(t testing.TB) Facts {
	t.Helper()
	loc := paris(t)
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, loc) }
	opened := at(24, 14, 3)
	ev := func(when time.Time, kind incidents.EventKind, actor, text string) incidents.Event {
		return incidents.Event{IncidentID: 42, At: when, Kind: kind, Actor: actor, Text: text}
	}
	timeline := []incidents.Event{
		ev(opened, incidents.EventOpened, "alertmanager", "opened as P3 from alertmanager: Checkout error rate above 5%"),
		ev(at(24, 14, 13), incidents.EventAlert, incidents.Actor, "fired 6 more times since the last notice (7 in all)"),
		ev(at(24, 14, 21), incidents.EventComment, "carol", "502s from payment-gateway in the checkout logs, mostly eu-west-1"),
		ev(at(24, 14, 25), incidents.EventService, "alice", "service checkout-web → checkout"),
		ev(at(24, 14, 45), incidents.EventAcknowledged, "alice", "acknowledged after 42m (TTA target 2h00m)"),
		ev(at(24, 14, 46), incidents.EventAssigned, "alice", "assigned to alice"),
		ev(at(24, 14, 50), incidents.EventPriority, "alice", "priority P3 → P2: card payments failing for a third of customers"),
		ev(at(24, 14, 50), incidents.EventBreach, "alice", "TTA breached on requalification to P2: target 30m, took 42m"),
	}
	total := 7
	for i := range 5 {
		total += 5
		timeline = append(timeline, ev(at(24, 15, 10*i), incidents.EventAlert, incidents.Actor,
			fmt.Sprintf("fired 5 more times since the last notice (%d in all)", total)))
	}
	timeline = append(timeline,
		ev(at(24, 15, 52), incidents.EventComment, "bob", "rolled back checkout to v1.41: no change.\npayment-gateway connection pool at 100% on every pod"),
		ev(at(24, 18, 3), incidents.EventReminder, incidents.Actor,
			"service not restored after 4h00m (50% of the P2 TRS target of 8h00m): 4h00m left; restore first, root cause later (/mitigate 42)"),
		ev(at(24, 18, 10), incidents.EventFiveWhys, "alice", "started five whys. Problem: Card payments failed at checkout with 502 errors"),
		ev(at(24, 18, 27), incidents.EventMitigated, "bob",
			"mitigated after 4h24m (TRS target 8h00m): raised the payment-gateway connection pool from 20 to 80 and restarted the checkout pods"),
		ev(at(24, 18, 40), incidents.EventHypercare, "bob", "hypercare for 12h00m: a return of the alert will be flagged at once"),
		ev(at(24, 18, 45), incidents.EventSourceResolved, "alertmanager", "resolved at source"),
		ev(at(24, 19, 5), incidents.EventFiveWhys, "bob", "why 1: checkout's calls to payment-gateway timed out"),
		ev(at(24, 19, 30), incidents.EventComment, "dave", "dashboard: https://grafana.example.com/d/checkout-overview"),
		ev(at(25, 10, 15), incidents.EventResolved, "bob", "resolved: pool size now set per environment; saturation alert added"),
		ev(at(25, 10, 20), incidents.EventPostmortem, incidents.Actor, "post-mortem drafted"),
	)
	inc := &incidents.Incident{
		ID: 42, Fingerprint: "fp-checkout-errors", Service: "checkout", Operation: "POST /checkout",
		Title: "Checkout error rate above 5%", Source: "alertmanager",
		Priority: incidents.P2, State: incidents.StateResolved, AlertCount: total,
		Labels: incidents.LabelCounts{
			"alertname":   {{Value: "CheckoutErrorRate", Count: 32}},
			"severity":    {{Value: "warning", Count: 32}},
			"region":      {{Value: "eu-west-1", Count: 26}, {Value: "eu-central-1", Count: 6}},
			"status_code": {{Value: "504", Count: 4}, {Value: "502", Count: 28}},
			"pod": {
				{Value: "checkout-7d9f-def", Count: 3}, {Value: "checkout-7d9f-abc", Count: 24},
				{Value: "checkout-7d9f-ghi", Count: 2}, {Value: "checkout-7d9f-jkl", Count: 2},
				{Value: incidents.OtherValue, Count: 1},
			},
		},
		OpenedAt:       opened,
		AcknowledgedAt: at(24, 14, 45), AcknowledgedBy: "alice",
		MitigatedAt: at(24, 18, 27), MitigatedBy: "bob",
		ResolvedAt: at(25, 10, 15), ResolvedBy: "bob",
		LastSeenAt: at(24, 15, 40),
		AckDue:     opened.Add(30 * time.Minute), RestoreDue: opened.Add(8 * time.Hour),
		Assignee:      "alice",
		HypercareFrom: at(24, 18, 40), HypercareUntil: at(25, 6, 40), HypercareBy: "bob",
		Timeline: timeline,
	}
	chains := []*incidents.Chain{
		{
			ID: 1, IncidentID: 42, Seq: 1, Problem: "Card payments failed at checkout with 502 errors",
			Answers: []string{
				"checkout's calls to payment-gateway timed out and were turned into 502s",
				"payment-gateway's connection pool was exhausted: 20 connections for 3x the usual traffic",
				"the pool size was a hard-coded default, never revisited when traffic grew",
				"nothing alerted on pool saturation, so the limit stayed invisible until it was hit",
			},
			AnsweredBy:     []string{"bob", "bob", "alice", "alice"},
			Want:           4,
			Countermeasure: "make the pool size configurable per environment and alert at 80% pool saturation",
			State:          incidents.ChainDone, StartedBy: "alice", StartedAt: at(24, 18, 10), EndedAt: at(24, 19, 40),
		},
		{
			ID: 2, IncidentID: 42, Seq: 2, Problem: "The rollback did not help",
			Want: 5, State: incidents.ChainAbandoned, StartedBy: "bob", StartedAt: at(24, 19, 45), EndedAt: at(24, 19, 46),
		},
		{
			ID: 3, IncidentID: 42, Seq: 3, Problem: "The alert took 42 minutes to be acknowledged",
			Answers:    []string{"it opened as P3, whose channel nobody watches during the afternoon rush"},
			AnsweredBy: []string{"alice"},
			Want:       5, State: incidents.ChainAsking, StartedBy: "alice", StartedAt: at(25, 9, 30),
		},
	}
	return Facts{Incident: inc, Chains: chains, Policy: incidents.DefaultPolicy(), Location: loc, Now: at(25, 10, 30)}
}

// minimalFacts is an incident just opened and still unacknowledged past
// its target: most sections can only ask to be filled.
func minimalFacts() Facts {
	opened := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	inc := &incidents.Incident{
		ID: 7, Fingerprint: "fp-disk", Service: "db", Title: "Disk usage above 90% on db-1", Source: "grafana",
		Priority: incidents.P3, State: incidents.StateOpen, AlertCount: 1, Labels: incidents.LabelCounts{},
		OpenedAt: opened, LastSeenAt: opened, AckDue: opened.Add(2 * time.Hour), RestoreDue: opened.Add(24 * time.Hour),
		Timeline: []incidents.Event{{IncidentID: 7, At: opened, Kind: incidents.EventOpened, Actor: "grafana",
			Text: "opened as P3 from grafana: Disk usage above 90% on db-1"}},
	}
	return Facts{Incident: inc, Policy: incidents.DefaultPolicy(), Now: opened.Add(3 * time.Hour)}
}
