package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// A statement the writer runs unprepared is prepared once its transaction
// is committed, and from then on runs prepared, with the same results; a
// statement SQLite refuses keeps its error for its caller, and the set
// learnt stays bounded.
func TestWriterPreparesTheStatementsItMeets(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const q = `INSERT INTO health (id, checked_at, checks) VALUES (1, ?1, 1) ON CONFLICT (id) DO UPDATE SET checked_at = ?1, checks = checks + 1`
	const count = `SELECT checks FROM health WHERE id = 1`
	prepared := func(q string) bool {
		var ok bool
		if err := db.update(ctx, func(w *wtx) error { _, ok = w.db.stmts[q]; return nil }); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if prepared(q) || prepared(count) {
		t.Fatal("prepared before it ever ran")
	}
	var checks int
	for i := range 3 {
		if err := db.update(ctx, func(w *wtx) error {
			if _, err := w.exec(q, i); err != nil {
				return err
			}
			return w.queryRow(count).Scan(&checks)
		}); err != nil {
			t.Fatal(err)
		}
		if checks != i+1 {
			t.Fatalf("run %d: %d checks, want %d", i+1, checks, i+1)
		}
		if !prepared(q) || !prepared(count) {
			t.Fatalf("run %d: not prepared after running once", i+1)
		}
	}

	const bad = `SELEC nothing`
	for range 2 {
		err := db.update(ctx, func(w *wtx) error { _, err := w.exec(bad); return err })
		if err == nil || !strings.Contains(err.Error(), "syntax error") {
			t.Fatalf("a statement SQLite refuses: %v", err)
		}
	}
	if prepared(bad) {
		t.Fatal("a refused statement was kept")
	}

	for i := range maxLearnt + 10 {
		if err := db.update(ctx, func(w *wtx) error {
			_, err := w.exec(fmt.Sprintf(`UPDATE health SET checks = checks WHERE id = %d`, i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	db.update(ctx, func(w *wtx) error { n = len(w.db.stmts); return nil })
	if n != len(hotWrites)+maxLearnt {
		t.Fatalf("%d statements prepared, want at most %d", n, len(hotWrites)+maxLearnt)
	}
}
