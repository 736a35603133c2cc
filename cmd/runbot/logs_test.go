package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// TestLogLinesCarryOperation runs runbot through start-up, intake (good and
// bad), queries, a failed start and shutdown, and checks that every log
// line it wrote has an operation field: runbot follows the advice it
// enforces on the services it watches.
func TestLogLinesCarryOperation(t *testing.T) {
	b := startBot(t, config.Default())
	call(t, "POST", b.url+"/api/v1/alerts/log", "", "[api] saving: disk full\n", nil)
	call(t, "POST", b.url+"/api/v1/alerts/generic", "", `{"service":`, nil)
	call(t, "POST", b.url+"/api/v1/alerts/nagios", "", `{}`, nil)
	call(t, "GET", b.url+"/api/v1/incidents/1", "", "", nil)
	call(t, "GET", b.url+"/healthz", "", "", nil)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	var failed bytes.Buffer
	if code := run([]string{"--listen", "0.0.0.0:0", "--db", filepath.Join(t.TempDir(), "x.db")},
		func(k string) string { return map[string]string{"RUNBOT_LOG_FORMAT": "json"}[k] }, &bytes.Buffer{}, &failed); code != 1 {
		t.Fatalf("run beyond loopback without a token exited %d, want 1", code)
	}

	lines := strings.Split(strings.TrimSpace(b.logs.String()+failed.String()), "\n")
	ops := map[string]bool{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		op, _ := rec["operation"].(string)
		if op == "" {
			t.Errorf("log line without an operation: %s", l)
		}
		ops[op] = true
	}
	for _, want := range []string{"starting", "opening database", "receiving alerts", "stopping", "running runbot"} {
		if !ops[want] {
			t.Errorf("no log line with operation %q among %d lines; ops seen: %v", want, len(lines), ops)
		}
	}
}

// TestEveryLogCallNamesAnOperation covers the log calls no test reaches:
// each slog call in runbot's code passes an "operation" attribute.
func TestEveryLogCallNamesAnOperation(t *testing.T) {
	root := filepath.Join("..", "..")
	levels := map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true,
		"DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !levels[sel.Sel.Name] || !strings.Contains(strings.ToLower(exprString(sel.X)), "log") {
				return true
			}
			checked++
			for _, a := range call.Args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Value == `"operation"` {
					return true
				}
			}
			t.Errorf("%s: log call without an \"operation\" attribute", fset.Position(call.Pos()))
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Fatalf("only %d log calls found: the scan is not looking where the code is", checked)
	}
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.CallExpr:
		return exprString(e.Fun) + "()"
	}
	return ""
}
