package web

import (
	"bytes"
	"html"
	"html/template"
	"net/url"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown renders the markdown people write (runbooks, post-mortem
// drafts) as HTML for the console. Raw HTML is never rendered as HTML (no
// WithUnsafe): it is shown as the text it is, since "kubectl logs <pod>"
// in a runbook means the words, and goldmark would drop them. Links are kept only when they lead somewhere (http, https, mailto or a
// path), images become links (the page loads nothing from elsewhere), and
// headings are shifted under the page's own: the document's top heading
// becomes level top.
type markdown struct {
	md goldmark.Markdown
}

func newMarkdown() *markdown {
	// GFM: the tables, task lists and bare links of post-mortems and runbooks.
	return &markdown{md: goldmark.New(goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(rawAsText{}, 100))))}
}

// rawAsText renders raw HTML, inline or as a block, as escaped text; it
// takes precedence over goldmark's renderer, which would omit it.
type rawAsText struct{}

func (rawAsText) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, func(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			segs := n.(*ast.RawHTML).Segments
			for i := range segs.Len() {
				seg := segs.At(i)
				_, _ = w.WriteString(html.EscapeString(string(seg.Value(source))))
			}
		}
		return ast.WalkSkipChildren, nil
	})
	reg.Register(ast.KindHTMLBlock, func(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		b := n.(*ast.HTMLBlock)
		var text strings.Builder
		for i := range b.Lines().Len() {
			line := b.Lines().At(i)
			text.Write(line.Value(source))
		}
		if b.HasClosure() {
			text.Write(b.ClosureLine.Value(source))
		}
		_, _ = w.WriteString("<p>" + html.EscapeString(strings.TrimSpace(text.String())) + "</p>\n")
		return ast.WalkSkipChildren, nil
	})
}

// HTML renders src; what goldmark cannot render is shown as written.
func (m *markdown) HTML(top int, src string) template.HTML {
	source := []byte(src)
	doc := m.md.Parser().Parse(text.NewReader(source))
	tidy(doc, source, top)
	var b bytes.Buffer
	if err := m.md.Renderer().Render(&b, source, doc); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>")
	}
	// goldmark escaped every text and attribute and dropped raw HTML.
	return template.HTML(b.String()) //nolint:gosec // see above
}

// tidy shifts headings and makes links safe, in place.
func tidy(doc ast.Node, source []byte, top int) {
	var headings []*ast.Heading
	var links []ast.Node
	least := 7
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			headings = append(headings, n)
			least = min(least, n.Level)
		case *ast.Link, *ast.AutoLink, *ast.Image:
			links = append(links, n)
		}
		return ast.WalkContinue, nil
	})
	for _, h := range headings {
		h.Level = min(6, max(1, h.Level-least+top))
	}
	// Changed after the walk: a walk does not survive its tree changing.
	for _, n := range links {
		switch n := n.(type) {
		case *ast.Link:
			if !safeURL(string(n.Destination)) {
				unwrap(n)
				continue
			}
			external(n, string(n.Destination))
		case *ast.AutoLink:
			u := string(n.URL(source))
			if !safeURL(u) {
				n.Parent().ReplaceChild(n.Parent(), n, ast.NewString(n.Label(source)))
				continue
			}
			external(n, u)
		case *ast.Image:
			if !safeURL(string(n.Destination)) {
				unwrap(n)
				continue
			}
			link := ast.NewLink()
			link.Destination, link.Title = n.Destination, n.Title
			for c := n.FirstChild(); c != nil; {
				next := c.NextSibling()
				link.AppendChild(link, c)
				c = next
			}
			if link.ChildCount() == 0 {
				link.AppendChild(link, ast.NewString(n.Destination))
			}
			external(link, string(n.Destination))
			n.Parent().ReplaceChild(n.Parent(), n, link)
		}
	}
}

// unwrap replaces a link by its text.
func unwrap(n ast.Node) {
	parent := n.Parent()
	for c := n.FirstChild(); c != nil; {
		next := c.NextSibling()
		parent.InsertBefore(parent, n, c)
		c = next
	}
	parent.RemoveChild(parent, n)
}

// external keeps the console's address from the sites a runbook links to.
func external(n ast.Node, u string) {
	if p, err := url.Parse(u); err == nil && p.Scheme != "" {
		n.SetAttributeString("rel", []byte("noopener noreferrer"))
	}
}

// safeURL reports whether a link leads somewhere rather than running
// something: http, https or mailto, or a path of the console.
func safeURL(u string) bool {
	u = strings.TrimSpace(u)
	// Browsers drop tabs and newlines inside a URL: "java\tscript:".
	if strings.ContainsAny(u, "\t\r\n\x00") {
		return false
	}
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https", "mailto":
		return true
	case "":
		// A path, or "//host/path" (another site over the page's own
		// scheme); a colon before the first slash would read as a scheme.
		first, _, _ := strings.Cut(u, "/")
		return !strings.Contains(first, ":") && !strings.Contains(u, `\`)
	}
	return false
}
