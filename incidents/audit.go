package incidents

import "time"

// AuditEntry is one change a person made, or tried to make and was
// refused: a command, a button, a comment. Reads are not kept: the log
// answers "who changed what, from where", and a refusal belongs in it as
// much as a success (a stranger trying /resolve is what an auditor looks
// for).
type AuditEntry struct {
	ID int64
	At time.Time
	// Actor is the person as runbot knows them: the chat user, the
	// console's signed-in name, the API call's user.
	Actor string
	// Platform is where the change came from: slack, mattermost, console
	// or api.
	Platform string
	// Replica is the runbot process that took it (host/pid/random, the
	// name it holds leases under).
	Replica string
	// Action is what was asked, as run: "/prio 42 P1 db down", "comment
	// on #42".
	Action string
	// IncidentID is the incident concerned, 0 for none.
	IncidentID int64
	// Outcome is AuditOK, or the refusal's error code (forbidden,
	// invalid, not_found...), whose short text is Detail.
	Outcome string
	Detail  string
}

// AuditOK is the Outcome of a change that went through.
const AuditOK = "ok"

// MaxAuditPage bounds the entries one listing returns.
const MaxAuditPage = 500

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Actor      string // "" for anyone
	IncidentID int64  // 0 for any
	// Before keeps entries older than that entry id (a page's cursor: the
	// last id of the page before); 0 starts at the newest.
	Before int64
	// Since keeps entries at or after that moment; zero for no bound.
	Since time.Time
	// Limit is how many at most, 1 to MaxAuditPage; 0 or beyond is
	// MaxAuditPage.
	Limit int
}

// PageSize is the filter's limit, bounded.
func (f AuditFilter) PageSize() int {
	if f.Limit <= 0 || f.Limit > MaxAuditPage {
		return MaxAuditPage
	}
	return f.Limit
}
