package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

// WebMessages keeps the web console's messages.
type WebMessages struct {
	db       *DB
	platform string
	Now      func() time.Time
}

// NewWebMessages returns the console's message store on db, for the
// platform of that name.
func NewWebMessages(db *DB, platform string) *WebMessages {
	return &WebMessages{db: db, platform: platform, Now: time.Now}
}

// Add stores a message and returns its id. A root with a key that is
// already there returns the existing one: posting a root is idempotent,
// from any replica (the unique index web_messages_key).
func (w *WebMessages) Add(ctx context.Context, m incidents.ConsoleMessage) (int64, error) {
	now := w.Now().UTC()
	var id int64
	err := w.db.write(ctx, "storing a console message", func(tx pgx.Tx) error {
		if m.Root != 0 && m.IncidentID == 0 {
			var inc *int64
			if err := tx.QueryRow(ctx, `SELECT incident_id FROM web_messages WHERE id = $1`, m.Root).Scan(&inc); err != nil {
				return fmt.Errorf("finding root %d: %w", m.Root, err)
			}
			m.IncidentID = deref(inc)
		}
		err := tx.QueryRow(ctx, `INSERT INTO web_messages (channel, root_id, incident_id, key, to_user, author, message, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
			ON CONFLICT (channel, key) WHERE key <> '' AND root_id IS NULL DO NOTHING RETURNING id`,
			m.Channel, nullID(m.Root), nullID(m.IncidentID), m.Key, m.To, m.Author, m.Message, now).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) { // the root is there already
			return tx.QueryRow(ctx, `SELECT id FROM web_messages WHERE channel = $1 AND key = $2 AND key <> '' AND root_id IS NULL`,
				m.Channel, m.Key).Scan(&id)
		}
		if err != nil {
			return err
		}
		// The thread is the incident's from the moment its root exists: a
		// reply typed at once must find it, before the dispatcher records
		// the delivery.
		if m.Root == 0 && m.IncidentID != 0 && m.Key != "" {
			_, err = tx.Exec(ctx, `INSERT INTO threads (incident_id, platform, channel, root_ref, posted_at)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM incidents WHERE id = $1) ON CONFLICT DO NOTHING`,
				m.IncidentID, w.platform, m.Channel, strconv.FormatInt(id, 10), now)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// Edit replaces a message's content.
func (w *WebMessages) Edit(ctx context.Context, id int64, message string) error {
	op := fmt.Sprintf("editing console message %d", id)
	found := false
	err := w.db.write(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE web_messages SET message = $1, edits = edits + 1, updated_at = $2 WHERE id = $3`, message, w.Now().UTC(), id)
		found = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s: %w", op, pgx.ErrNoRows)
	}
	return nil
}

const webColumns = `id, channel, coalesce(root_id, 0), coalesce(incident_id, 0), key, to_user, author, message, edits, created_at, updated_at`

func scanWeb(r pgx.Row) (incidents.ConsoleMessage, error) {
	var m incidents.ConsoleMessage
	err := r.Scan(&m.ID, &m.Channel, &m.Root, &m.IncidentID, &m.Key, &m.To, &m.Author, &m.Message, intColumn[int]{&m.Edits},
		timeColumn{&m.CreatedAt}, timeColumn{&m.UpdatedAt})
	return m, err
}

func (w *WebMessages) one(ctx context.Context, op, q string, args ...any) (incidents.ConsoleMessage, bool, error) {
	m, err := scanWeb(w.db.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return incidents.ConsoleMessage{}, false, nil
	}
	if err != nil {
		return incidents.ConsoleMessage{}, false, storeError(op, err)
	}
	return m, true, nil
}

// Get returns one message; ok is false when there is none.
func (w *WebMessages) Get(ctx context.Context, id int64) (incidents.ConsoleMessage, bool, error) {
	return w.one(ctx, fmt.Sprintf("reading console message %d", id), `SELECT `+webColumns+` FROM web_messages WHERE id = $1`, id)
}

// FindRoot returns the root with a key in a channel. The query says
// the key is not empty, so that the planner can use the partial index
// web_messages_key.
func (w *WebMessages) FindRoot(ctx context.Context, channel, key string) (incidents.ConsoleMessage, bool, error) {
	return w.one(ctx, fmt.Sprintf("finding console root %s", key),
		`SELECT `+webColumns+` FROM web_messages WHERE channel = $1 AND key = $2 AND key <> '' AND root_id IS NULL`, channel, key)
}

// Incident returns the messages of an incident's thread, root first.
func (w *WebMessages) Incident(ctx context.Context, incidentID int64) ([]incidents.ConsoleMessage, error) {
	return w.list(ctx, `SELECT `+webColumns+` FROM web_messages WHERE incident_id = $1 ORDER BY id`, incidentID)
}

// Recent returns the newest messages, newest first.
func (w *WebMessages) Recent(ctx context.Context, limit int) ([]incidents.ConsoleMessage, error) {
	return w.list(ctx, `SELECT `+webColumns+` FROM web_messages ORDER BY id DESC LIMIT $1`, limit)
}

func (w *WebMessages) list(ctx context.Context, q string, args ...any) ([]incidents.ConsoleMessage, error) {
	rows, err := w.db.pool.Query(ctx, q, args...)
	list, err := collect(rows, err, scanWeb)
	if err != nil {
		return nil, storeError("reading console messages", err)
	}
	return list, nil
}
