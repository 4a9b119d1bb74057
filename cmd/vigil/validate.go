package main

import (
	"encoding/json"
	"fmt"
	"io"

	"vigil/hcl"
	"vigil/hcl/spec"
)

func init() {
	register("validate", "Check a configuration: syntax, references and rules", runValidate)
}

// validateResult is what `vigil validate -json` prints.
type validateResult struct {
	Valid        bool              `json:"valid"`
	ErrorCount   int               `json:"error_count"`
	WarningCount int               `json:"warning_count"`
	Diagnostics  []spec.Diagnostic `json:"diagnostics"`
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	jsonOut := fs.Bool("json", false, "print the result as JSON on stdout")
	vars := varFlags{}
	var varFiles listFlags
	fs.Var(vars, "var", "set a variable: -var name=value (repeatable)")
	fs.Var(&varFiles, "var-file", "read variables from an HCL file of name = value lines (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil validate [-json] [-var name=value]... [-var-file FILE]... [PATH...]\n\n"+
			"Loads every *.hcl file of each PATH (default \".\") as one configuration and checks it.\n"+
			"Variables also come from VIGIL_VAR_<name> environment variables.\n"+
			"Exit status: 0 valid (warnings allowed), 1 invalid.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	tuneGC()
	cfg, diags := hcl.Load(paths, loadOptions(vars, varFiles))
	errs, warns := countDiagnostics(diags)

	if *jsonOut {
		out, _ := json.MarshalIndent(validateResult{
			Valid: errs == 0, ErrorCount: errs, WarningCount: warns, Diagnostics: hcl.DiagnosticsJSON(diags),
		}, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		printDiagnostics(stderr, diags, cfg)
		if errs == 0 {
			var servers, cameras int
			for _, s := range cfg.Sites {
				servers += len(s.Servers)
				cameras += len(s.Cameras)
			}
			fmt.Fprintf(stdout, "Success! The configuration is valid: %s, %s, %s.\n",
				plural(len(cfg.Sites), "site", "sites"), plural(servers, "server", "servers"), plural(cameras, "camera", "cameras"))
		} else {
			fmt.Fprintf(stderr, "The configuration is invalid: %s, %s.\n", plural(errs, "error", "errors"), plural(warns, "warning", "warnings"))
		}
	}
	if errs > 0 {
		return 1
	}
	return 0
}
