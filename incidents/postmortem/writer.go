package postmortem

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Store is what the Writer needs from the incident service.
type Store interface {
	PendingPostmortems(ctx context.Context) ([]*incidents.Postmortem, error)
	FindIncident(ctx context.Context, id int64) (*incidents.Incident, error)
	Chains(ctx context.Context, id int64) ([]*incidents.Chain, error)
	SavePostmortem(ctx context.Context, pm *incidents.Postmortem) error
}

// Catalog is what the Writer needs from the service catalog.
type Catalog interface {
	// Replicas is how many instances the service is expected to run, 0
	// when unknown.
	Replicas(service string) int
}

// Writer drafts the post-mortems asked for, in the background: a draft
// takes as long as the LLM does, and a command must answer at once. The
// requests are rows in the store, so a restart resumes them.
type Writer struct {
	store    Store
	drafter  *Drafter
	policy   incidents.Policy
	location *time.Location
	logger   *slog.Logger
	wake     chan struct{}
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Poll is how often the store is read without a wake-up (a request
	// written by another process); default 30s.
	Poll time.Duration
	// Catalog gives the replicas the label breakdown compares with, as
	// the page and the chat did; nil knows none.
	Catalog Catalog
}

// NewWriter builds a Writer.
func NewWriter(store Store, drafter *Drafter, policy incidents.Policy, location *time.Location, logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{store: store, drafter: drafter, policy: policy, location: location, logger: logger,
		wake: make(chan struct{}, 1), Now: time.Now, Poll: 30 * time.Second}
}

// Wake tells the writer a request may be waiting.
func (w *Writer) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run drafts until ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	for {
		if err := w.drain(ctx); err != nil && ctx.Err() == nil {
			w.logger.Error("drafting post-mortems failed", "operation", "drafting post-mortems", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-time.After(w.Poll):
		}
	}
}

// drain drafts every waiting request, oldest first.
func (w *Writer) drain(ctx context.Context) error {
	pending, err := w.store.PendingPostmortems(ctx)
	if err != nil {
		return err
	}
	for _, pm := range pending {
		if err := w.write(ctx, pm); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the request waits for the next start
			}
			return err
		}
	}
	return nil
}

func (w *Writer) write(ctx context.Context, pm *incidents.Postmortem) error {
	inc, err := w.store.FindIncident(ctx, pm.IncidentID)
	if err != nil {
		return fmt.Errorf("reading incident %d for its post-mortem: %w", pm.IncidentID, err)
	}
	chains, err := w.store.Chains(ctx, pm.IncidentID)
	if err != nil {
		return fmt.Errorf("reading the five whys of incident %d: %w", pm.IncidentID, err)
	}
	replicas := 0
	if w.Catalog != nil {
		replicas = w.Catalog.Replicas(inc.Service)
	}
	start := time.Now()
	d := w.drafter.Draft(ctx, Facts{Incident: inc, Chains: chains, Policy: w.policy, Location: w.location, Now: w.Now(), Replicas: replicas})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pm.Markdown, pm.Source, pm.Model, pm.Note = d.Markdown, d.Source, d.Model, d.Note
	if err := w.store.SavePostmortem(ctx, pm); err != nil {
		return fmt.Errorf("storing post-mortem v%d of incident %d: %w", pm.Version, pm.IncidentID, err)
	}
	w.logger.Info("post-mortem drafted", "operation", "drafting post-mortems", "incident", pm.IncidentID, "version", pm.Version,
		"source", d.Source, "model", d.Model, "note", d.Note, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
