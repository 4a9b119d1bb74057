package hcl

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

// sortDiagnostics orders diagnostics by file and position so that output is
// stable; diagnostics without a place come last, in their original order.
func sortDiagnostics(diags hhcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

const (
	ansiReset     = "\x1b[0m"
	ansiBold      = "\x1b[1m"
	ansiRed       = "\x1b[31m"
	ansiYellow    = "\x1b[33m"
	ansiUnderline = "\x1b[4m"
)

// WriteDiagnostics renders diagnostics the way Terraform does:
//
//	Error: Reference to undeclared server
//
//	  on site.hcl line 12, column 14:
//	  12:     server = "srv-4"
//	                   ^^^^^^^
//
//	Camera "cam1" names "srv-4" as its primary server, ...
//
// files supplies the source lines (Config.Files); color adds ANSI colours;
// every value in sensitive is replaced by "(sensitive)" wherever it appears,
// source lines included.
func WriteDiagnostics(w io.Writer, diags hhcl.Diagnostics, files map[string][]byte, color bool, sensitive []string) error {
	var buf bytes.Buffer
	shown, more := shownDiagnostics(diags)
	for _, d := range shown {
		label, col := "Error", ansiRed
		if d.Severity == hhcl.DiagWarning {
			label, col = "Warning", ansiYellow
		}
		summary := clip(Scrub(d.Summary, sensitive), maxDiagText)
		if color {
			fmt.Fprintf(&buf, "%s%s%s: %s%s\n", ansiBold, col, label, summary, ansiReset)
		} else {
			fmt.Fprintf(&buf, "%s: %s\n", label, summary)
		}
		if r := d.Subject; r != nil {
			fmt.Fprintf(&buf, "\n  on %s line %d, column %d:\n", r.Filename, r.Start.Line, r.Start.Column)
			writeSnippet(&buf, *r, files[r.Filename], color, sensitive)
		}
		if d.Detail != "" {
			fmt.Fprintf(&buf, "\n%s\n", wrap(clip(Scrub(d.Detail, sensitive), maxDiagText), 78))
		}
		buf.WriteByte('\n')
	}
	if more != "" {
		fmt.Fprintf(&buf, "%s\n\n", more)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// maxSnippetLines bounds how much of a multi-line range is shown.
const maxSnippetLines = 3

func writeSnippet(buf *bytes.Buffer, r hhcl.Range, src []byte, color bool, sensitive []string) {
	if src == nil || r.Start.Byte > len(src) || r.End.Byte > len(src) || r.Start.Line < 1 {
		return
	}
	// Find the start of the first line of the range.
	lineStart := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	line := r.Start.Line
	width := len(fmt.Sprint(r.End.Line))
	for pos := lineStart; pos <= len(src) && line <= r.End.Line && line < r.Start.Line+maxSnippetLines; line++ {
		end := bytes.IndexByte(src[pos:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += pos
		}
		text := strings.TrimRight(string(src[pos:end]), "\r")
		// The marked part of this line, as byte offsets into text.
		from, to := 0, len(text)
		if line == r.Start.Line {
			from = min(r.Start.Byte-pos, len(text))
		}
		if line == r.End.Line {
			to = min(max(r.End.Byte-pos, from), len(text))
		}
		// Each part is scrubbed, then a long line is cut to a window
		// around the marked part (a cut cannot reveal a scrubbed value).
		pre, mid, post := Scrub(text[:from], sensitive), Scrub(text[from:to], sensitive), Scrub(text[to:], sensitive)
		if len(pre)+len(mid)+len(post) > maxSnippetWidth {
			pre, mid, post = clipLeft(pre, maxSnippetWidth/4), clip(mid, maxSnippetWidth/2), clip(post, maxSnippetWidth/4)
		}
		text, from, to = pre+mid+post, len(pre), len(pre)+len(mid)
		if color && to > from {
			fmt.Fprintf(buf, "  %*d: %s%s%s%s%s\n", width, line, pre, ansiUnderline, mid, ansiReset, post)
		} else {
			fmt.Fprintf(buf, "  %*d: %s\n", width, line, text)
		}
		if !color && to > from && line == r.Start.Line {
			// Carets under the range; tabs are kept so that they line up.
			var pad strings.Builder
			for _, c := range text[:from] {
				if c == '\t' {
					pad.WriteByte('\t')
				} else {
					pad.WriteByte(' ')
				}
			}
			fmt.Fprintf(buf, "  %*s  %s%s\n", width, "", pad.String(), strings.Repeat("^", max(1, utf8.RuneCountInString(text[from:to]))))
		}
		pos = end + 1
	}
}

// wrap breaks text into lines of at most width columns at spaces, keeping
// existing line breaks.
func wrap(text string, width int) string {
	var out strings.Builder
	for i, para := range strings.Split(text, "\n") {
		if i > 0 {
			out.WriteByte('\n')
		}
		col := 0
		for j, word := range strings.Fields(para) {
			n := utf8.RuneCountInString(word)
			if j > 0 && col+1+n > width {
				out.WriteByte('\n')
				col = 0
			} else if j > 0 {
				out.WriteByte(' ')
				col++
			}
			out.WriteString(word)
			col += n
		}
	}
	return out.String()
}

// DiagnosticsJSON converts diagnostics to their serialisable form.
func DiagnosticsJSON(diags hhcl.Diagnostics) []spec.Diagnostic {
	shown, more := shownDiagnostics(diags)
	out := make([]spec.Diagnostic, 0, len(shown)+1)
	for _, d := range shown {
		j := spec.Diagnostic{Severity: spec.SeverityError, Summary: clip(d.Summary, maxDiagText), Detail: clip(d.Detail, maxDiagText)}
		if d.Severity == hhcl.DiagWarning {
			j.Severity = "warning"
		}
		if r := d.Subject; r != nil {
			j.Range = &spec.Range{Filename: r.Filename,
				Start: spec.Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:   spec.Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte}}
		}
		out = append(out, j)
	}
	if more != "" {
		out = append(out, spec.Diagnostic{Severity: spec.SeverityWarning, Summary: "More diagnostics not shown", Detail: more})
	}
	return out
}

// Rendered diagnostics are bounded, whatever the configuration: 20,000
// undeclared names on one 200 KB line, or a 10 MB name, must not give
// gigabytes of output.
const (
	// maxShownDiagnostics is how many diagnostics are rendered; the count
	// of the others follows.
	maxShownDiagnostics = 100
	// maxDiagText bounds a summary or detail (they quote names).
	maxDiagText = 2000
	// maxSnippetWidth bounds a source line shown under a diagnostic.
	maxSnippetWidth = 200
)

// shownDiagnostics is the first maxShownDiagnostics of diags and, when
// there were more, a line that says how many of each severity follow.
func shownDiagnostics(diags hhcl.Diagnostics) (hhcl.Diagnostics, string) {
	if len(diags) <= maxShownDiagnostics {
		return diags, ""
	}
	rest := diags[maxShownDiagnostics:]
	errs := len(rest.Errs())
	return diags[:maxShownDiagnostics], fmt.Sprintf("... and %d more diagnostics (%d errors, %d warnings) not shown.", len(rest), errs, len(rest)-errs)
}

// clip cuts s to at most n bytes (at a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// clipLeft keeps the last n bytes of s (from a rune boundary), marking
// the cut.
func clipLeft(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return "…" + s[i:]
}
