package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"vigil/hcl"
	"vigil/runtime/atomicfile"
)

func init() {
	register("fmt", "Rewrite HCL files in canonical layout", runFmt)
}

// Exit codes of vigil fmt, as terraform fmt has them.
const (
	fmtOK          = 0
	fmtError       = 1
	fmtWouldChange = 3
)

func runFmt(args []string, stdout, stderr io.Writer) int {
	fset := newFlags("fmt", stderr)
	check := fset.Bool("check", false, "change nothing; list the files that are not formatted and exit 3 if there are any")
	diff := fset.Bool("diff", false, "print the changes as a unified diff")
	recursive := fset.Bool("recursive", false, "also format the *.hcl files of subdirectories")
	fset.Usage = func() {
		fmt.Fprintf(fset.Output(), "Usage: vigil fmt [-check] [-diff] [-recursive] [PATH...]\n\n"+
			"Rewrites the *.hcl files of each PATH (default \".\") in canonical layout and lists the\n"+
			"files it changed. Exit status: 0 done, 1 error (such as a syntax error), 3 with -check\n"+
			"when some file is not formatted.\n\n")
		fset.PrintDefaults()
	}
	if code, ok := parseFlags(fset, args); !ok {
		return code
	}
	paths := fset.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	files, err := hclFiles(paths, *recursive)
	if err != nil {
		fmt.Fprintf(stderr, "vigil fmt: %v\n", err)
		return fmtError
	}
	code := fmtOK
	for _, name := range files {
		src, err := hcl.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "vigil fmt: %v\n", err)
			code = fmtError
			continue
		}
		if diags := hcl.CheckSyntax(src, name); diags.HasErrors() {
			printDiagnostics(stderr, diags, &hcl.Config{Files: map[string][]byte{name: src}})
			code = fmtError
			continue
		}
		out := hcl.Format(src)
		if bytes.Equal(src, out) {
			continue
		}
		fmt.Fprintln(stdout, name)
		if *diff {
			fmt.Fprint(stdout, hcl.UnifiedDiff(name, string(src), string(out)))
		}
		if *check {
			if code == fmtOK {
				code = fmtWouldChange
			}
			continue
		}
		if err := writeFileKeepMode(name, out); err != nil {
			fmt.Fprintf(stderr, "vigil fmt: %v\n", err)
			code = fmtError
		}
	}
	return code
}

// hclFiles lists the *.hcl files named by paths: files as given, directories
// expanded (recursively with -recursive, skipping hidden directories).
func hclFiles(paths []string, recursive bool) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".hcl") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeFileKeepMode replaces the file name, or the file a symbolic link
// name points to, with data, keeping its permissions. It writes a temporary
// file beside it and renames that over it, so that a full disk or a crash
// leaves the old file whole rather than truncated.
func writeFileKeepMode(name string, data []byte) error {
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	// The temporary name does not end in .hcl, so that a leftover is not
	// loaded as configuration.
	if err := atomicfile.Write(target, data, st.Mode().Perm(), "."+filepath.Base(target)+".*.tmp"); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
