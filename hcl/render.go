package hcl

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	hhcl "github.com/hashicorp/hcl/v2"
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
	for _, d := range diags {
		label, col := "Error", ansiRed
		if d.Severity == hhcl.DiagWarning {
			label, col = "Warning", ansiYellow
		}
		if color {
			fmt.Fprintf(&buf, "%s%s%s: %s%s\n", ansiBold, col, label, scrub(d.Summary, sensitive), ansiReset)
		} else {
			fmt.Fprintf(&buf, "%s: %s\n", label, scrub(d.Summary, sensitive))
		}
		if r := d.Subject; r != nil {
			fmt.Fprintf(&buf, "\n  on %s line %d, column %d:\n", r.Filename, r.Start.Line, r.Start.Column)
			writeSnippet(&buf, *r, files[r.Filename], color, sensitive)
		}
		if d.Detail != "" {
			fmt.Fprintf(&buf, "\n%s\n", wrap(scrub(d.Detail, sensitive), 78))
		}
		buf.WriteByte('\n')
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
		if color && to > from {
			fmt.Fprintf(buf, "  %*d: %s%s%s%s%s\n", width, line, scrub(text[:from], sensitive), ansiUnderline, scrub(text[from:to], sensitive), ansiReset, scrub(text[to:], sensitive))
		} else {
			fmt.Fprintf(buf, "  %*d: %s\n", width, line, scrub(text, sensitive))
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
func DiagnosticsJSON(diags hhcl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(diags))
	for _, d := range diags {
		j := Diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hhcl.DiagWarning {
			j.Severity = "warning"
		}
		if r := d.Subject; r != nil {
			j.Range = &Range{Filename: r.Filename,
				Start: Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:   Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte}}
		}
		out = append(out, j)
	}
	return out
}
