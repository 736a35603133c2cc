package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// The audit entry is written after the change, in a transaction of its
// own, not in the change's: a command may make no transaction (a refusal,
// which the log must show as much as a success) or several (/merge,
// /triage incident), and its outcome is known only once it returns, so
// the same-transaction write would have to reach into every use case of
// the engine. The cost is a gap: a crash between the two loses the entry,
// never the change. A failure to record is logged and the person's answer
// stands: their command went through, and an audit hiccup must not undo
// it or tell them otherwise.

// auditTimeout bounds recording an entry once the change is made, whether
// or not the person's request is still waiting.
const auditTimeout = 5 * time.Second

// maxAuditText bounds an entry's action and detail: the log says what was
// asked, it is no copy of long reasons or replies.
const maxAuditText = 300

// audit records a change a person made or was refused. The request's
// cancellation does not stop it: a client gone once the change is made
// must not leave it out of the log.
func (r *Router) audit(ctx context.Context, actor, platform, action string, incident int64, code, detail string) {
	if r.Audit == nil {
		return
	}
	e := incidents.AuditEntry{At: r.now().UTC(), Actor: strings.TrimPrefix(strings.TrimSpace(actor), "@"), Platform: platform,
		Replica: r.Replica, Action: clipText(action, maxAuditText), IncidentID: incident, Outcome: incidents.AuditOK}
	if code != "" {
		e.Outcome, e.Detail = code, clipText(detail, maxAuditText)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := r.Audit.Record(ctx, e); err != nil {
		r.logger().Error("audit entry lost", "operation", "recording an audit entry", "user", e.Actor, "platform", platform,
			"action", e.Action, "outcome", e.Outcome, "error", err)
	}
}

// auditCommand records a command that may change something.
func (r *Router) auditCommand(ctx context.Context, req Request, name string, args []string, resp Response) {
	action := "/" + strings.Join(append([]string{name}, args...), " ")
	r.audit(ctx, req.User, req.Platform, action, auditIncident(req, resp, args), resp.Code, resp.Text)
}

// auditIncident is the incident a command concerned: the one it acted on,
// else the one its context or its first argument named, so that a refused
// "/resolve 42" is found under #42.
func auditIncident(req Request, resp Response, args []string) int64 {
	if resp.Incident != 0 {
		return resp.Incident
	}
	if req.Incident != 0 {
		return req.Incident
	}
	id, _, _ := incidentArg(args)
	return id
}

// Comments in chat threads are recorded as well as the console's and the
// API's: a comment changes the incident's timeline, which is what the log
// is for, and one small row beside the timeline event each comment writes
// anyway costs little. The text stays in the timeline only; the log says
// who commented where.

// auditComment records a comment a person made on an incident's thread;
// err is what the comment met (nil when it went in).
func (r *Router) auditComment(ctx context.Context, user, platform string, incident int64, err error) {
	r.audit(ctx, user, platform, fmt.Sprintf("comment on #%d", incident), incident, incidents.ErrorCode(err), incidents.ErrorMessage(err))
}

// fiveWhysReads: "/five-whys [incident] show" lists the chains; any other
// step starts or moves one.
func fiveWhysReads(args []string) bool {
	_, rest, _ := incidentArg(args)
	return len(rest) == 1 && strings.EqualFold(rest[0], "show")
}

// runReads: "/run" tells who is on RUN and "/run handover" sums up the
// week; swap and set change the rota.
func runReads(args []string) bool {
	return len(args) == 0 || (len(args) == 1 && strings.EqualFold(args[0], "handover"))
}

// triageReads: "/triage" lists the open asks; relay and incident act on one.
func triageReads(args []string) bool { return len(args) == 0 }
