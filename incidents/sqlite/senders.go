package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// testKeyPrefix keys the last test each source sent in the settings table:
// one row per source, replaced by the next test, so that senders pressing
// Test all day cost nothing to keep.
const testKeyPrefix = "test_received/"

// storedTest is a TestReceived as kept, times in store milliseconds.
type storedTest struct {
	Source     string `json:"source"`
	Receiver   string `json:"receiver,omitempty"`
	From       string `json:"from,omitempty"`
	SentAt     int64  `json:"sent_at,omitempty"`
	ReceivedAt int64  `json:"received_at"`
}

// RecordTest keeps a sender's contact point test as the last one of its
// source, received now. It opens no incident and queues no message.
func (s *IncidentService) RecordTest(ctx context.Context, t incidents.TestReceived) error {
	st := storedTest{Source: t.Source, Receiver: t.Receiver, From: t.From, ReceivedAt: millis(s.now())}
	if !t.SentAt.IsZero() {
		st.SentAt = millis(t.SentAt)
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("recording a %s test: %w", t.Source, err)
	}
	err = s.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			testKeyPrefix+t.Source, string(v))
		return err
	})
	if err != nil {
		return fmt.Errorf("recording a %s test: %w", t.Source, err)
	}
	return nil
}

// TestsReceived is the last test of each source that sent one, newest
// first.
func (s *IncidentService) TestsReceived(ctx context.Context) ([]incidents.TestReceived, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT value FROM settings WHERE key >= ? AND key < ?`,
		testKeyPrefix, strings.TrimSuffix(testKeyPrefix, "/")+"0") // "0" sorts right after "/"
	if err != nil {
		return nil, fmt.Errorf("reading tests received: %w", err)
	}
	defer rows.Close()
	var out []incidents.TestReceived
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading tests received: %w", err)
		}
		var st storedTest
		if err := json.Unmarshal([]byte(v), &st); err != nil {
			return nil, fmt.Errorf("reading tests received: %w", err)
		}
		t := incidents.TestReceived{Source: st.Source, Receiver: st.Receiver, From: st.From, ReceivedAt: fromMillis(st.ReceivedAt)}
		if st.SentAt != 0 {
			t.SentAt = fromMillis(st.SentAt)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading tests received: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ReceivedAt.After(out[j].ReceivedAt) })
	return out, nil
}
