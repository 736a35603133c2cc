package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

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
// already there returns the existing one: posting a root is idempotent.
func (w *WebMessages) Add(ctx context.Context, m incidents.ConsoleMessage) (int64, error) {
	now := millis(w.Now())
	var id int64
	err := w.db.update(ctx, func(tx *wtx) error {
		if m.Root != 0 && m.IncidentID == 0 {
			var inc sql.NullInt64
			if err := tx.queryRow(`SELECT incident_id FROM web_messages WHERE id = ?`, m.Root).Scan(&inc); err != nil {
				return fmt.Errorf("finding root %d: %w", m.Root, err)
			}
			m.IncidentID = inc.Int64
		}
		if m.Key != "" && m.Root == 0 {
			err := tx.queryRow(selectRootByKey, m.Channel, m.Key).Scan(&id)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		res, err := tx.exec(`INSERT INTO web_messages (channel, root_id, incident_id, key, to_user, author, message, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.Channel, sql.NullInt64{Int64: m.Root, Valid: m.Root != 0},
			sql.NullInt64{Int64: m.IncidentID, Valid: m.IncidentID != 0}, m.Key, m.To, m.Author, m.Message, now, now)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		// The thread is the incident's from the moment its root exists: a
		// reply typed at once must find it, before the dispatcher records
		// the delivery.
		if m.Root == 0 && m.IncidentID != 0 && m.Key != "" {
			_, err = tx.exec(`INSERT OR IGNORE INTO threads (incident_id, platform, channel, root_ref, posted_at)
				SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM incidents WHERE id = ?)`,
				m.IncidentID, w.platform, m.Channel, strconv.FormatInt(id, 10), now, m.IncidentID)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storing a console message: %w", err)
	}
	return id, nil
}

// Edit replaces a message's content.
func (w *WebMessages) Edit(ctx context.Context, id int64, message string) error {
	found := false
	err := w.db.update(ctx, func(tx *wtx) error {
		res, err := tx.exec(`UPDATE web_messages SET message = ?, edits = edits + 1, updated_at = ? WHERE id = ?`, message, millis(w.Now()), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		found = n == 1
		return err
	})
	if err != nil {
		return fmt.Errorf("editing console message %d: %w", id, err)
	}
	if !found {
		return fmt.Errorf("editing console message %d: %w", id, sql.ErrNoRows)
	}
	return nil
}

const webColumns = `id, channel, root_id, incident_id, key, to_user, author, message, edits, created_at, updated_at`

func scanWeb(row scanner) (incidents.ConsoleMessage, error) {
	var m incidents.ConsoleMessage
	var root, inc sql.NullInt64
	var created, updated int64
	err := row.Scan(&m.ID, &m.Channel, &root, &inc, &m.Key, &m.To, &m.Author, &m.Message, &m.Edits, &created, &updated)
	m.Root, m.IncidentID = root.Int64, inc.Int64
	m.CreatedAt, m.UpdatedAt = fromMillis(created), fromMillis(updated)
	return m, err
}

// Get returns one message; ok is false when there is none.
func (w *WebMessages) Get(ctx context.Context, id int64) (incidents.ConsoleMessage, bool, error) {
	m, err := scanWeb(w.db.read.QueryRowContext(ctx, `SELECT `+webColumns+` FROM web_messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return incidents.ConsoleMessage{}, false, nil
	}
	if err != nil {
		return incidents.ConsoleMessage{}, false, fmt.Errorf("reading console message %d: %w", id, err)
	}
	return m, true, nil
}

// The root of a channel's key is found through the partial index
// web_messages_key, whose condition says the key is not empty: a query without that
// scans every root of the console, inside the writer when a message is
// added (9 ms a card at 10,000 roots, 50 µs through the index).
const (
	rootByKey       = ` FROM web_messages WHERE channel = ? AND key = ? AND key <> '' AND root_id IS NULL`
	selectRootByKey = `SELECT id` + rootByKey
	findRootByKey   = `SELECT ` + webColumns + rootByKey
)

// FindRoot returns the root with a key in a channel.
func (w *WebMessages) FindRoot(ctx context.Context, channel, key string) (incidents.ConsoleMessage, bool, error) {
	m, err := scanWeb(w.db.read.QueryRowContext(ctx, findRootByKey, channel, key))
	if errors.Is(err, sql.ErrNoRows) {
		return incidents.ConsoleMessage{}, false, nil
	}
	if err != nil {
		return incidents.ConsoleMessage{}, false, fmt.Errorf("finding console root %s: %w", key, err)
	}
	return m, true, nil
}

// Incident returns the messages of an incident's thread, root first.
func (w *WebMessages) Incident(ctx context.Context, incidentID int64) ([]incidents.ConsoleMessage, error) {
	return w.list(ctx, `SELECT `+webColumns+` FROM web_messages WHERE incident_id = ? ORDER BY id`, incidentID)
}

// Recent returns the newest messages, newest first (the contract view and
// direct messages).
func (w *WebMessages) Recent(ctx context.Context, limit int) ([]incidents.ConsoleMessage, error) {
	return w.list(ctx, `SELECT `+webColumns+` FROM web_messages ORDER BY id DESC LIMIT ?`, limit)
}

func (w *WebMessages) list(ctx context.Context, q string, args ...any) ([]incidents.ConsoleMessage, error) {
	rows, err := w.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading console messages: %w", err)
	}
	out, err := collect(rows, scanWeb)
	if err != nil {
		return nil, fmt.Errorf("reading console messages: %w", err)
	}
	return out, nil
}
