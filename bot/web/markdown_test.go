package web

import (
	"strings"
	"testing"
)

// TestMarkdownIsSafe: what a runbook or a draft holds reaches the page as
// text and safe links, never as markup or a script.
func TestMarkdownIsSafe(t *testing.T) {
	md := newMarkdown()
	for _, tc := range []struct {
		name, src string
		want      []string
		never     []string
	}{
		{"raw HTML reads as text", "Step one <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n<div onclick=\"x()\">block</div>\n\n" +
			"1. <script>alert(3)</script>Drain the pod.\n2. kubectl logs <pod> -n shop",
			[]string{"Step one &lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(2)&gt;", "&lt;div onclick=&#34;x()&#34;&gt;block&lt;/div&gt;",
				"Drain the pod.", "kubectl logs &lt;pod&gt; -n shop"},
			[]string{"<script", "<img", "<div", "<pod>"}},
		{"script links", "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](vbscript:x) [d](data:text/html;base64,PHNjcmlwdD4=) [e](file:///etc/passwd)",
			[]string{"a", "b", "c", "d", "e"}, []string{"href", "javascript", "JaVaScRiPt", "vbscript", "data:", "file:"}},
		{"script autolink", "<javascript:alert(1)>", []string{"javascript:alert(1)"}, []string{"href"}},
		{"links that lead somewhere", "[dash](https://grafana.example.com/d/x) [page](/runbooks/checkout) <mailto:oncall@example.com> https://wiki.example.com/run",
			[]string{`<a href="https://grafana.example.com/d/x" rel="noopener noreferrer">dash</a>`, `<a href="/runbooks/checkout">page</a>`,
				`href="mailto:oncall@example.com"`, `<a href="https://wiki.example.com/run" rel="noopener noreferrer">`}, nil},
		{"images become links", "![the graph](https://grafana.example.com/render.png) ![x](javascript:alert(1))",
			[]string{`<a href="https://grafana.example.com/render.png" rel="noopener noreferrer">the graph</a>`}, []string{"<img", "javascript"}},
		{"tables and code", "| a | b |\n| --- | --- |\n| 1 | 2 |\n\n```sh\nkubectl get pods <x>\n```\n",
			[]string{"<table>", "<td>1</td>", `<code class="language-sh">kubectl get pods &lt;x&gt;`}, nil},
	} {
		got := string(md.HTML(2, tc.src))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q holds %q", tc.name, got, n)
			}
		}
	}
}

// TestMarkdownHeadingsFitThePage: a document's top heading becomes the
// level the page asks for, and the rest keep their steps below it.
func TestMarkdownHeadingsFitThePage(t *testing.T) {
	md := newMarkdown()
	got := string(md.HTML(3, "# Post-mortem\n\n## Summary\n\n#### Deep\n\n###### Deeper"))
	for _, w := range []string{"<h3>Post-mortem</h3>", "<h4>Summary</h4>", "<h6>Deep</h6>", "<h6>Deeper</h6>"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q lacks %q", got, w)
		}
	}
	if got := string(md.HTML(2, "## Restore\n\n### Check")); !strings.Contains(got, "<h2>Restore</h2>") || !strings.Contains(got, "<h3>Check</h3>") {
		t.Errorf("a runbook's ## sections under the page's title: %q", got)
	}
}

func TestSafeURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://x.example/a": true, "http://x": true, "mailto:a@b": true, "/incidents/3": true, "runbook.md": true,
		"#step-2": true, "//cdn.example/x": true, "javascript:alert(1)": false, " javascript:x": false, "java\tscript:x": false,
		"data:text/html,x": false, "vbscript:x": false, "file:///etc": false, `/\evil.example`: false, "ftp://x": false,
	} {
		if got := safeURL(u); got != want {
			t.Errorf("safeURL(%q) = %v, want %v", u, got, want)
		}
	}
}
