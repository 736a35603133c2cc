package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Sessions keeps the console's sign-ins.
type Sessions struct{ db *DB }

// NewSessions returns the sessions of db.
func NewSessions(db *DB) *Sessions { return &Sessions{db: db} }

// Create stores a session and drops the expired ones: sign-ins are rare,
// and this keeps the table as small as the team.
func (s *Sessions) Create(ctx context.Context, sess incidents.ConsoleSession) error {
	err := s.db.update(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`DELETE FROM sessions WHERE expires_at < ?`, sess.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.exec(`INSERT INTO sessions (id_hash, user, access, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			sess.IDHash, sess.User, sess.Access, sess.CreatedAt.UnixMilli(), sess.ExpiresAt.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("creating a session: %w", err)
	}
	return nil
}

// Find returns the session with that id hash, if any.
func (s *Sessions) Find(ctx context.Context, idHash string) (incidents.ConsoleSession, bool, error) {
	sess := incidents.ConsoleSession{IDHash: idHash}
	var created, expires int64
	err := s.db.read.QueryRowContext(ctx, `SELECT user, access, created_at, expires_at FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&sess.User, &sess.Access, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return incidents.ConsoleSession{}, false, nil
	}
	if err != nil {
		return incidents.ConsoleSession{}, false, fmt.Errorf("reading a session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	return sess, true, nil
}

// Delete ends a session (sign-out).
func (s *Sessions) Delete(ctx context.Context, idHash string) error {
	if err := s.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	}); err != nil {
		return fmt.Errorf("ending a session: %w", err)
	}
	return nil
}
