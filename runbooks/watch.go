package runbooks

import (
	"context"
	"log/slog"
	"time"
)

// DefaultWatchEvery is how often Watch looks at the runbooks directory.
const DefaultWatchEvery = 2 * time.Second

// Watch reloads the catalog when a runbook file changes, until ctx ends.
// It polls the directory every `every`, comparing the files' names,
// sizes and modification times: a few stat calls, and unlike file system
// events it sees edits on network file systems and ConfigMap volumes
// (whose files change by a swapped link) alike. A change is applied once
// it has held for one poll, so a file caught half-written is not. What a
// reload does not apply is logged once per change, with the operation
// "reloading runbooks", and stays in Problem until fixed.
func (c *Catalog) Watch(ctx context.Context, every time.Duration, logger *slog.Logger) error {
	if c == nil || c.dir == "" {
		return nil
	}
	if every <= 0 {
		every = DefaultWatchEvery
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	seen := c.snap().stamp
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		stamp := stampDir(c.dir)
		if stamp == c.snap().stamp {
			seen = stamp
			continue
		}
		if stamp != seen {
			seen = stamp // still moving: look again next time
			continue
		}
		if err := c.Reload(); err != nil {
			logger.Error("runbooks not applied; their previous version stays", "operation", "reloading runbooks", "dir", c.dir, "error", err)
			continue
		}
		logger.Info("runbooks reloaded", "operation", "reloading runbooks", "dir", c.dir, "runbooks", len(c.Services()))
	}
}
