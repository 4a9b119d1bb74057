package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/evidence"
)

// exportFile exports a camera's period through the agent at address to
// out (default CAMERA-START.mp4) and writes the signed manifest beside it.
// The MP4 is written under a temporary name and only given its name once
// the agent signed it and its hash matches: a failed export leaves no file
// that looks whole.
func exportFile(address, camera, startS, endS, out string, stdout, stderr io.Writer) int {
	if startS == "" || endS == "" {
		fmt.Fprintf(stderr, "vigil export: give the period: -start T -end T (RFC 3339, e.g. 2026-12-01T21:00:00Z)\n")
		return 2
	}
	p := periodFlags{start: startS, end: endS}
	start, end, err := p.resolve(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "vigil export: %v\n", err)
		return 2
	}
	if out == "" {
		out = camera + "-" + start.UTC().Format("20060102T150405Z") + ".mp4"
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	defer os.Remove(tmp.Name())
	raw, err := newClient(address, api.TokenFromEnv()).Export(context.Background(), camera, start, end, whoAmI(), tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	m, err := evidence.Received(raw, tmp.Name())
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	if err := evidence.WriteFile(out, m); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	if _, err := evidence.VerifyFile(out); err != nil {
		fmt.Fprintf(stderr, "Error: the export does not verify: %v\n", err)
		return 1
	}
	st, _ := os.Stat(out)
	fmt.Fprintf(stdout, "Exported %s: %s (%s), manifest %s\n", camera, out, spec.FormatSize(float64(st.Size())), evidence.ManifestPath(out))
	fmt.Fprintf(stdout, "  %s\n", m.Summary())
	if len(m.Gaps) > 0 {
		fmt.Fprintf(stdout, "  gaps:\n")
		for _, g := range m.Gaps {
			fmt.Fprintf(stdout, "    %s to %s (%s): %s\n", g.Start.Format(time.RFC3339), g.End.Format(time.RFC3339), fmtDuration(g.End.Sub(g.Start)), g.Cause)
		}
	}
	return 0
}

// whoAmI names the operator for the export's manifest: user@host.
func whoAmI() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return strings.TrimSpace(name)
}
