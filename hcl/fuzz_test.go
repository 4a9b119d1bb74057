package hcl

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary text to the loader as one configuration file (and
// to the formatter): nothing may panic or hang. The corpus starts from every
// example and test configuration.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../examples/*/*.hcl", "../testdata/hcl/*/*/*.hcl"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	// The hardening issue's configurations, so that mutations explore the
	// evaluation bounds (limits.go).
	for _, src := range []string{
		`locals { boom = length(setproduct(range(1000), range(1000), range(1000))) }`,
		`locals { x = [for a in range(100) : [for b in range(100) : "${a}${b}"]] }`,
		`locals { ok = can(regex("^a", "abc")) ? format("%05d", 1) : replace("aaa", "a", "bb") }`,
		"locals { x = ((((!!(-1 > 0 ? 1 : 2)))))\n}",
	} {
		f.Add([]byte(src))
	}
	// Big but legal inputs (the large example with its numbers mutated)
	// would take seconds each; a low block limit keeps executions fast.
	defer func(old int64) { maxDynamicBlocks = old }(maxDynamicBlocks)
	maxDynamicBlocks = 2000
	// Likewise the evaluation budget: a mutated loop runs to its bound.
	defer func(i, b, v, p int64, d time.Duration) {
		maxIterations, maxTemplateBytes, maxValueUnits, maxProducedUnits, maxEvalTime = i, b, v, p, d
	}(maxIterations, maxTemplateBytes, maxValueUnits, maxProducedUnits, maxEvalTime)
	maxIterations, maxTemplateBytes, maxValueUnits, maxProducedUnits, maxEvalTime = 20_000, 1<<20, 64<<10, 256<<10, 2*time.Second
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := loadSources([]source{{"fuzz.hcl", src}}, LoadOptions{Env: []string{}, Vars: map[string]string{}}, nil)
		if cfg == nil {
			t.Fatal("nil config")
		}
		_ = WriteDiagnostics(discard{}, diags, cfg.Files, false, cfg.Sensitive)
		_ = DiagnosticsJSON(diags)
		for _, s := range cfg.Sites {
			_ = s.Redacted(nil)
		}
		if !CheckSyntax(src, "fuzz.hcl").HasErrors() {
			_ = Format(src)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
