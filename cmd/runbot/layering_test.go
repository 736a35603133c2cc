package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// module is this module's path, the prefix of every package of runbot.
const module = "github.com/runbot-dev/runbot"

// consumers are the packages that use the store through interfaces of
// their own: the chat platforms, the commands, the API and the jobs. This
// package (cmd/runbot) alone wires the store to them.
var consumers = []string{
	module + "/bot/...",
	module + "/commands",
	module + "/selfmon",
	module + "/digest",
	module + "/runweek",
	module + "/api",
}

// TestConsumersDoNotImportTheStore fails when a consumer depends on a
// store implementation again, even through another package: then a test
// of a platform needs a database, and a change of the store's types ripples
// into every platform. A store implementation is incidents/sqlite, or any
// package of runbot that talks to a database itself (imports database/sql
// or the SQLite driver), so a second store is caught as well.
func TestConsumersDoNotImportTheStore(t *testing.T) {
	graph, roots := depGraph(t, consumers)
	if len(roots) == 0 {
		t.Fatalf("go list found none of %v", consumers)
	}
	for _, root := range roots {
		if chain := storeChain(graph, root); chain != nil {
			t.Errorf("%s depends on the store %s: %s", root, chain[len(chain)-1], strings.Join(chain, " -> "))
		}
	}
}

// isStore tells a store implementation among runbot's packages.
func isStore(pkg string, imports []string) bool {
	if pkg == module+"/incidents/sqlite" {
		return true
	}
	return strings.HasPrefix(pkg, module+"/") &&
		slices.ContainsFunc(imports, func(imp string) bool { return imp == "database/sql" || imp == "modernc.org/sqlite" })
}

// storeChain is the import chain from root to the first store found
// breadth first (so the shortest), nil when root reaches none.
func storeChain(graph map[string][]string, root string) []string {
	from := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		if isStore(pkg, graph[pkg]) {
			var chain []string
			for p := pkg; p != ""; p = from[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imp := range graph[pkg] {
			if _, seen := from[imp]; !seen {
				from[imp] = pkg
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// depGraph runs go list -deps on patterns (test files left out: a test may
// well open a database) and returns every package's imports, and the
// packages the patterns name.
func depGraph(t *testing.T, patterns []string) (graph map[string][]string, roots []string) {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("finding the go command: %v", err)
		}
	}
	cmd := exec.Command(goBin, append([]string{"list", "-deps", "-test=false", "-json=ImportPath,Imports,DepOnly,Error"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("listing dependencies: %v\n%s", err, stderr.String())
	}
	graph = map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			DepOnly    bool
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("listing %s: %s", p.ImportPath, p.Error.Err)
		}
		graph[p.ImportPath] = p.Imports
		if !p.DepOnly {
			roots = append(roots, p.ImportPath)
		}
	}
	return graph, roots
}

// TestStoreChainNamesTheWay checks the search itself on a small graph, so
// that the test above cannot pass by finding nothing.
func TestStoreChainNamesTheWay(t *testing.T) {
	graph := map[string][]string{
		module + "/bot/web":            {"context", module + "/bot"},
		module + "/bot":                {module + "/incidents"},
		module + "/incidents":          {"time"},
		module + "/commands":           {module + "/digest", module + "/bot"},
		module + "/digest":             {module + "/incidents/sqlite"},
		module + "/incidents/sqlite":   {"database/sql", module + "/incidents"},
		module + "/bot/slack":          {module + "/incidents/postgres"},
		module + "/incidents/postgres": {"database/sql"},
	}
	for root, want := range map[string]string{
		module + "/bot/web":   "",
		module + "/commands":  module + "/commands -> " + module + "/digest -> " + module + "/incidents/sqlite",
		module + "/bot/slack": module + "/bot/slack -> " + module + "/incidents/postgres",
	} {
		if got := strings.Join(storeChain(graph, root), " -> "); got != want {
			t.Errorf("storeChain(%s) = %q, want %q", root, got, want)
		}
	}
}
