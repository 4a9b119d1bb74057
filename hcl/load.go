package hcl

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"vigil/hcl/spec"
)

// LoadOptions supplies values for the configuration's variables.
type LoadOptions struct {
	// Vars are -var name=value pairs. The value is taken literally for
	// variables of a primitive type (string, number, bool, any) and parsed as
	// an HCL expression for lists, maps and objects.
	Vars map[string]string
	// VarFiles are HCL files of name = value lines, applied in order.
	VarFiles []string
	// Env is the environment to read VIGIL_VAR_<name> from; nil means
	// os.Environ().
	Env []string
	// Capacity, when set, is the site's N+1 check (assign.Uncovered): each
	// server whose failure would leave cameras unrecorded, with those
	// cameras. Load warns about each at the server's declaration. The
	// assignment belongs to the runtime, which hcl does not import, so the
	// caller brings it; without it Load gives no capacity warning.
	Capacity func(*spec.Site) map[string][]string
}

// EnvVarPrefix prefixes the environment variables that set variables.
const EnvVarPrefix = "VIGIL_VAR_"

// markSensitive marks cty values that derive from a sensitive variable.
const markSensitive = "sensitive"

var rootSchema = &hhcl.BodySchema{Blocks: []hhcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "domain", LabelNames: []string{"name"}},
	{Type: "site", LabelNames: []string{"name"}},
	// Top-level notifiers, alerts, users and tokens belong to every site.
	{Type: "notifier", LabelNames: []string{"name"}},
	{Type: "alert", LabelNames: []string{"name"}},
	{Type: "user", LabelNames: []string{"name"}},
	{Type: "token", LabelNames: []string{"name"}},
}}

// The first pass reads only what the evaluation context is made of.
var declSchema = &hhcl.BodySchema{Blocks: []hhcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
}}

var variableSchema = &hhcl.BodySchema{Attributes: []hhcl.AttributeSchema{
	{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
}}

type variable struct {
	name      string
	typ       cty.Type
	sensitive bool
	value     cty.Value // cty.NilVal until a value is known
	declRange hhcl.Range
}

// Load reads the given files and directories (every *.hcl file of a
// directory, not recursively) as one configuration, evaluates variables,
// locals, functions and dynamic blocks, decodes the model, applies defaults
// and validates it. It returns every diagnostic it found, errors and
// warnings; the Config may be partial when there are errors. Diagnostic
// texts never contain the value of a sensitive variable.
func Load(paths []string, opts LoadOptions) (*Config, hhcl.Diagnostics) {
	names, diags := collectFiles(paths)
	var files []source
	var total int64
	for _, name := range names {
		src, err := readSource(name, &total)
		if err != nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Cannot read configuration file", Detail: err.Error()})
			continue
		}
		files = append(files, source{name, src})
	}
	return loadSources(files, opts, diags)
}

// source is one configuration file's name and contents.
type source struct {
	name string
	src  []byte
}

// loadSources is Load after the files have been read.
func loadSources(files []source, opts LoadOptions, diags hhcl.Diagnostics) (*Config, hhcl.Diagnostics) {
	cfg := &Config{Files: map[string][]byte{}}
	b := newBudget()
	var bodies []hhcl.Body
	// Literal passwords and tokens of the files: hidden wherever
	// diagnostics show text or source lines, also when a file does not
	// parse. Added to cfg.Sensitive at the end only, so that the decoder's
	// check of values from sensitive variables does not see them.
	var literals []string
	for _, file := range files {
		name, src := file.name, file.src
		cfg.Files[name] = src
		d, secrets := scanSource(src, name)
		literals = append(literals, secrets...)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		f, d := hclsyntax.ParseConfig(src, name, hhcl.InitialPos)
		diags = append(diags, d...)
		if f != nil && f.Body != nil {
			if body, ok := f.Body.(*hclsyntax.Body); ok {
				lowPrecisionInts(body)
				b.bound(body)
			}
			bodies = append(bodies, f.Body)
		}
	}
	if diags.HasErrors() {
		// Syntax errors make everything after them guesswork.
		cfg.Sensitive = append(cfg.Sensitive, literals...)
		scrubDiagnostics(diags, cfg.Sensitive)
		sortDiagnostics(diags)
		return cfg, diags
	}

	l := &loader{cfg: cfg, vars: map[string]*variable{}, budget: b, capacity: opts.Capacity}
	var localAttrs []*hhcl.Attribute
	for _, body := range bodies {
		content, _, d := body.PartialContent(declSchema)
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				diags = append(diags, l.declareVariable(b)...)
			case "locals":
				attrs, d := b.Body.JustAttributes()
				diags = append(diags, d...)
				for _, a := range attrs {
					localAttrs = append(localAttrs, a)
				}
			}
		}
	}
	diags = append(diags, l.assignVariables(opts)...)
	diags = append(diags, l.evalLocals(localAttrs)...)

	diags = append(diags, l.decodeRoot(bodies)...)
	diags = append(diags, validateConfig(cfg)...)
	if d := b.diagnostic(); d != nil {
		diags = append(diags, d)
	}
	l.explainUndeclared(diags)
	cfg.Sensitive = append(cfg.Sensitive, literals...)
	scrubDiagnostics(diags, cfg.Sensitive)
	sortDiagnostics(diags)
	return cfg, dedupe(diags)
}

// lowPrecisionInts gives whole-number literals a 64-bit mantissa instead of
// the parser's 512 bits. Numbers computed from them keep the precision of
// their operands, and turning a 512-bit number into text (every "${i}" in a
// template) costs a long shortest-decimal search: with thousands of dynamic
// blocks that dominated loading. Whole numbers below 2^63 are exact either
// way.
func lowPrecisionInts(body *hclsyntax.Body) {
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hhcl.Diagnostics {
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.Type() != cty.Number || !lit.Val.IsKnown() || lit.Val.IsNull() {
			return nil
		}
		bf := lit.Val.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact && bf.IsInt() {
			lit.Val = cty.NumberIntVal(i)
		}
		return nil
	})
}

// collectFiles expands directories to their *.hcl files, sorted by name.
func collectFiles(paths []string) ([]string, hhcl.Diagnostics) {
	var diags hhcl.Diagnostics
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Cannot read configuration", Detail: err.Error()})
			continue
		}
		if !st.IsDir() {
			add(filepath.Clean(p))
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.hcl"))
		if err != nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Cannot read configuration directory", Detail: err.Error()})
			continue
		}
		if len(matches) == 0 {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "No configuration files", Detail: fmt.Sprintf("The directory %s contains no *.hcl files.", p)})
		}
		sort.Strings(matches)
		for _, m := range matches {
			add(m)
		}
	}
	return out, diags
}

type loader struct {
	// blocks counts the blocks that dynamic blocks generated, across sites
	// decoded in parallel.
	blocks atomic.Int64
	cfg    *Config
	vars   map[string]*variable
	order  []string // variable names in declaration order
	locals map[string]cty.Value
	ctx    *hhcl.EvalContext
	budget *budget // what evaluation may spend (limits.go)
	// capacity is LoadOptions.Capacity.
	capacity func(*spec.Site) map[string][]string
}

func (l *loader) declareVariable(b *hhcl.Block) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		return append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid variable name",
			Detail:  fmt.Sprintf("%q is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter.", name),
			Subject: b.LabelRanges[0].Ptr()})
	}
	if prev, ok := l.vars[name]; ok {
		return append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Duplicate variable declaration",
			Detail:  fmt.Sprintf("A variable named %q was already declared at %s. Variable names must be unique.", name, rangeString(prev.declRange)),
			Subject: b.DefRange.Ptr()})
	}
	v := &variable{name: name, typ: cty.DynamicPseudoType, declRange: b.DefRange}
	l.vars[name] = v
	l.order = append(l.order, name)

	content, d := b.Body.Content(variableSchema)
	diags = append(diags, d...)
	if a, ok := content.Attributes["type"]; ok {
		ty, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.typ = ty
		}
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		val, d := a.Expr.Value(&hhcl.EvalContext{Functions: l.budget.functions()})
		diags = append(diags, d...)
		if !d.HasErrors() {
			if bv, err := convert.Convert(val, cty.Bool); err != nil || bv.IsNull() {
				diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid sensitive value", Detail: "sensitive must be true or false.", Subject: a.Expr.Range().Ptr()})
			} else {
				v.sensitive = bv.True()
			}
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		// The description is documentation only; check that it is a string.
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if _, err := convert.Convert(val, cty.String); !d.HasErrors() && err != nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid description", Detail: "A variable's description must be a string.", Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(&hhcl.EvalContext{Functions: l.budget.functions()})
		diags = append(diags, d...)
		if !d.HasErrors() {
			cv, err := convert.Convert(val, v.typ)
			if err != nil {
				// Unknown: the variable is not reported again as unset.
				v.value = cty.UnknownVal(v.typ)
				diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid default value for variable",
					Detail:  fmt.Sprintf("The default value of variable %q does not match its type %s: %s.", name, typeexpr.TypeString(v.typ), err),
					Subject: a.Expr.Range().Ptr()})
			} else {
				v.value = cv
			}
		}
	}
	return diags
}

// assignVariables applies, lowest priority first: defaults, the
// environment, -var-file files in order, -var flags.
func (l *loader) assignVariables(opts LoadOptions) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	for _, kv := range env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvVarPrefix) {
			continue
		}
		name := strings.TrimPrefix(k, EnvVarPrefix)
		if v, ok := l.vars[name]; ok {
			diags = append(diags, l.setRaw(v, val, "environment variable "+k)...)
		}
	}
	for _, file := range opts.VarFiles {
		diags = append(diags, l.loadVarFile(file)...)
	}
	names := make([]string, 0, len(opts.Vars))
	for n := range opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v, ok := l.vars[name]
		if !ok {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Value for undeclared variable",
				Detail: fmt.Sprintf("A -var option sets %q, but the configuration declares no variable by that name.%s", name, l.varSuggestion(name))})
			continue
		}
		diags = append(diags, l.setRaw(v, opts.Vars[name], fmt.Sprintf("-var %q", name))...)
	}

	vals := map[string]cty.Value{}
	for _, name := range l.order {
		v := l.vars[name]
		if v.value == cty.NilVal {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default value. Set it with -var '%s=...', in a -var-file, or in the environment variable %s%s.",
					name, name, EnvVarPrefix, name),
				Subject: v.declRange.Ptr()})
			// An unknown value silences the errors that would follow from it.
			v.value = cty.UnknownVal(v.typ)
		}
		if v.sensitive {
			l.collectSensitive(v.value)
			v.value = v.value.Mark(markSensitive)
		}
		vals[name] = v.value
	}
	l.ctx = &hhcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)},
		Functions: l.budget.functions(),
	}
	return diags
}

// setRaw sets a variable from a string given outside the configuration.
func (l *loader) setRaw(v *variable, raw, source string) hhcl.Diagnostics {
	if v.sensitive && raw != "" {
		// Also when it turns out invalid: an error must not show it.
		l.cfg.Sensitive = append(l.cfg.Sensitive, raw)
	}
	var val cty.Value
	if v.typ.IsPrimitiveType() || v.typ == cty.DynamicPseudoType {
		val = cty.StringVal(raw)
	} else {
		diags := checkNesting([]byte(raw), source)
		var expr hclsyntax.Expression
		if !diags.HasErrors() {
			expr, diags = hclsyntax.ParseExpression([]byte(raw), source, hhcl.InitialPos)
		}
		if diags.HasErrors() {
			return l.hideIfSensitive(v, diags)
		}
		l.budget.bound(expr)
		var d hhcl.Diagnostics
		val, d = expr.Value(&hhcl.EvalContext{Functions: l.budget.functions()})
		if d.HasErrors() {
			return l.hideIfSensitive(v, d)
		}
	}
	cv, err := convert.Convert(val, v.typ)
	if err != nil {
		return hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid value for variable",
			Detail:  fmt.Sprintf("The value of %s does not match the type %s of variable %q: %s.", source, typeexpr.TypeString(v.typ), v.name, err),
			Subject: v.declRange.Ptr()}}
	}
	v.value = cv
	return nil
}

// hideIfSensitive replaces parse errors about a sensitive variable's value,
// which would quote it, by one that does not.
func (l *loader) hideIfSensitive(v *variable, diags hhcl.Diagnostics) hhcl.Diagnostics {
	if !v.sensitive {
		return diags
	}
	return hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Invalid value for variable",
		Detail:  fmt.Sprintf("The value given for the sensitive variable %q is not a valid expression of type %s.", v.name, typeexpr.TypeString(v.typ)),
		Subject: v.declRange.Ptr()}}
}

func (l *loader) loadVarFile(name string) hhcl.Diagnostics {
	var total int64
	src, err := readSource(name, &total)
	if err != nil {
		return hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Cannot read variables file", Detail: err.Error()}}
	}
	if d := checkNesting(src, name); d.HasErrors() {
		return d
	}
	f, diags := hclsyntax.ParseConfig(src, name, hhcl.InitialPos)
	if diags.HasErrors() {
		// A broken line may hold a sensitive value that cannot be told
		// apart from the rest of it: then the errors show no source lines.
		if !l.anySensitive() {
			l.cfg.Files[name] = src
		}
		return diags
	}
	l.cfg.Files[name] = src
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := attrs[n]
		v, ok := l.vars[n]
		if !ok {
			if s := suggest(n, l.order); s != "" && l.vars[s].sensitive {
				// Most likely a misspelt sensitive variable: its line,
				// shown with the warning, holds a secret.
				l.collectLiterals(a.Expr)
			}
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagWarning, Summary: "Value for undeclared variable",
				Detail:  fmt.Sprintf("The variables file sets %q, but the configuration declares no variable by that name; the value is ignored.%s", n, l.varSuggestion(n)),
				Subject: a.NameRange.Ptr()})
			continue
		}
		if v.sensitive {
			// Before evaluating: an error in the expression must not show
			// them, in its text or in the source line.
			l.collectLiterals(a.Expr)
		}
		if n, ok := a.Expr.(hclsyntax.Node); ok {
			l.budget.bound(n)
		}
		val, d := a.Expr.Value(&hhcl.EvalContext{Functions: l.budget.functions()})
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if v.sensitive {
			// Also when it turns out invalid: an error must not show it.
			l.collectSensitive(val)
		}
		cv, err := convert.Convert(val, v.typ)
		if err != nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid value for variable",
				Detail:  fmt.Sprintf("The value does not match the type %s of variable %q: %s.", typeexpr.TypeString(v.typ), n, err),
				Subject: a.Expr.Range().Ptr()})
			continue
		}
		v.value = cv
	}
	return diags
}

func (l *loader) varSuggestion(name string) string {
	if s := suggest(name, l.order); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// collectSensitive records every string inside a sensitive value, so that
// renderers can scrub it from text.
func (l *loader) collectSensitive(v cty.Value) {
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			if s := v.AsString(); s != "" {
				l.cfg.Sensitive = append(l.cfg.Sensitive, s)
			}
		}
		return true, nil
	})
}

// collectLiterals records the string literals of the expression that sets a
// sensitive variable, so that renderers scrub them from text.
func (l *loader) collectLiterals(expr hhcl.Expression) {
	n, ok := expr.(hclsyntax.Node)
	if !ok {
		return
	}
	hclsyntax.VisitAll(n, func(n hclsyntax.Node) hhcl.Diagnostics {
		if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok {
			l.collectSensitive(lit.Val)
		}
		return nil
	})
}

// evalLocals evaluates locals in dependency order; a local may use
// variables, functions and other locals.
func (l *loader) evalLocals(attrs []*hhcl.Attribute) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	l.locals = map[string]cty.Value{}
	declared := map[string]*hhcl.Attribute{}
	var pending []*hhcl.Attribute
	for _, a := range attrs {
		if prev, ok := declared[a.Name]; ok {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Duplicate local value",
				Detail:  fmt.Sprintf("A local value named %q was already defined at %s. Local value names must be unique.", a.Name, rangeString(prev.Range)),
				Subject: a.NameRange.Ptr()})
			continue
		}
		declared[a.Name] = a
		pending = append(pending, a)
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].Name < pending[j].Name })
	l.setLocalsCtx()
	for len(pending) > 0 {
		var next []*hhcl.Attribute
		for _, a := range pending {
			ready := true
			for _, t := range a.Expr.Variables() {
				if t.RootName() != "local" || len(t) < 2 {
					continue
				}
				dep, ok := t[1].(hhcl.TraverseAttr)
				if !ok {
					continue
				}
				if _, done := l.locals[dep.Name]; !done && declared[dep.Name] != nil {
					ready = false
				}
			}
			if !ready {
				next = append(next, a)
				continue
			}
			if n, _ := a.Expr.(hclsyntax.Node); !l.budget.check(n) {
				// Out of time: the rest stay unknown (the budget's error).
				l.locals[a.Name] = cty.DynamicVal
				continue
			}
			v, d := a.Expr.Value(l.ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			l.locals[a.Name] = v
			l.setLocalsCtx()
		}
		if len(next) == len(pending) {
			names := make([]string, len(next))
			for i, a := range next {
				names[i] = "local." + a.Name
				l.locals[a.Name] = cty.DynamicVal
			}
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Cycle in local values",
				Detail:  fmt.Sprintf("These local values depend on each other, so none of them can be evaluated: %s.", strings.Join(names, ", ")),
				Subject: next[0].Expr.Range().Ptr()})
			l.setLocalsCtx()
			break
		}
		pending = next
	}
	l.setLocalsCtx()
	return diags
}

func (l *loader) setLocalsCtx() {
	l.ctx.Variables["local"] = cty.ObjectVal(l.locals)
}

// decodeRoot expands dynamic blocks (at any level, including dynamic
// "site" blocks), decodes the domain and the sites, and applies the site
// rules to each site. A site in which some value was unknown, because a
// variable had no value, skips the rules: they would report the missing
// values again as missing arguments. A value that failed to decode leaves
// the default in place, so the rules still apply, without the warnings.
func (l *loader) decodeRoot(bodies []hhcl.Body) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	d := &decoder{ctx: l.ctx, sensitive: l.cfg.Sensitive, marks: l.anySensitive(), unknowns: l.anyUnknown()}
	var siteBlocks, shared []*hhcl.Block
	for _, body := range bodies {
		content, cd := expand(body, l.ctx, l.countBlocks).Content(rootSchema)
		diags = append(diags, cd...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "domain":
				dom := d.domain(b)
				if l.cfg.Domain != nil {
					d.errorf(b.DefRange, "Duplicate domain block",
						"A configuration has at most one domain; the first is declared at %s.", rangeString(hclRange(l.cfg.Domain.DeclRange)))
					continue
				}
				l.cfg.Domain = dom
			case "site":
				siteBlocks = append(siteBlocks, b)
			case "notifier", "alert", "user", "token":
				shared = append(shared, b)
			}
		}
	}
	diags = append(diags, d.diags...)

	// Sites are independent, so they decode and validate in parallel:
	// evaluation only reads the shared context. Results keep declaration
	// order.
	type result struct {
		site  *spec.Site
		diags hhcl.Diagnostics
	}
	results := make([]result, len(siteBlocks))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(siteBlocks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sd := &decoder{ctx: l.ctx, sensitive: l.cfg.Sensitive, marks: d.marks, unknowns: d.unknowns}
				s := sd.site(siteBlocks[i])
				sd.shared(s, shared)
				if !sd.incomplete {
					sd.diags = append(sd.diags, validateSite(s, l.capacity, !sd.diags.HasErrors())...)
				}
				results[i] = result{site: s, diags: sd.diags}
			}
		}()
	}
	for i := range siteBlocks {
		next <- i
	}
	close(next)
	wg.Wait()

	for _, r := range results {
		l.cfg.Sites = append(l.cfg.Sites, r.site)
		diags = append(diags, r.diags...)
	}
	return diags
}

// anySensitive reports whether a variable is sensitive.
func (l *loader) anySensitive() bool {
	for _, v := range l.vars {
		if v.sensitive {
			return true
		}
	}
	return false
}

// anyUnknown reports whether a variable or local value is not wholly known
// (a variable without a value, a local that failed to evaluate). Values are
// computed from these and from literals by functions that return known
// results for known arguments, so otherwise every value is known.
func (l *loader) anyUnknown() bool {
	for _, v := range l.ctx.Variables {
		if !v.IsWhollyKnown() {
			return true
		}
	}
	return false
}

// explainUndeclared rewrites HCL's generic "This object does not have an
// attribute named ..." for var.x and local.x into what the user did wrong,
// with a suggestion.
func (l *loader) explainUndeclared(diags hhcl.Diagnostics) {
	locals := make([]string, 0, len(l.locals))
	for n := range l.locals {
		locals = append(locals, n)
	}
	sort.Strings(locals)
	for _, d := range diags {
		if d.Summary != "Unsupported attribute" || d.Expression == nil {
			continue
		}
		t, ok := hhcl.UnwrapExpressionUntil(d.Expression, func(e hhcl.Expression) bool {
			_, ok := e.(*hclsyntax.ScopeTraversalExpr)
			return ok
		}).(*hclsyntax.ScopeTraversalExpr)
		if !ok || len(t.Traversal) < 2 {
			continue
		}
		attr, ok := t.Traversal[1].(hhcl.TraverseAttr)
		if !ok {
			continue
		}
		switch t.Traversal.RootName() {
		case "var":
			if _, declared := l.vars[attr.Name]; !declared {
				d.Summary = "Reference to undeclared variable"
				d.Detail = fmt.Sprintf("No variable named %q is declared; declare it with a variable block.%s", attr.Name, didYouMean(attr.Name, "variables", "the configuration", l.order))
			}
		case "local":
			if _, declared := l.locals[attr.Name]; !declared {
				d.Summary = "Reference to undeclared local value"
				d.Detail = fmt.Sprintf("No local value named %q is defined in a locals block.%s", attr.Name, didYouMean(attr.Name, "local values", "the configuration", locals))
			}
		}
	}
}

// dedupe drops repeats of a diagnostic: an error inside a dynamic block's
// content is found once per iteration, at the same place.
func dedupe(diags hhcl.Diagnostics) hhcl.Diagnostics {
	type key struct {
		sev             hhcl.DiagnosticSeverity
		summary, detail string
		subject         hhcl.Range
	}
	seen := map[key]bool{}
	out := diags[:0]
	for _, d := range diags {
		k := key{d.Severity, d.Summary, d.Detail, hhcl.Range{}}
		if d.Subject != nil {
			k.subject = *d.Subject
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// expand expands dynamic blocks: expandDynamic, a variable so that a test
// can compare it with hcl's ext/dynblock.
var expand = expandDynamic

// maxDynamicBlocks bounds how many blocks the dynamic blocks of one
// configuration may generate, so that nested for_each expressions cannot
// make loading run for hours. A variable so that tests can lower it.
var maxDynamicBlocks int64 = 200_000

func (l *loader) countBlocks(v cty.Value, expr hhcl.Expression, _ *hhcl.EvalContext) hhcl.Diagnostics {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	if l.blocks.Add(int64(v.LengthInt())) > maxDynamicBlocks {
		return hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Too many dynamic blocks",
			Detail:  fmt.Sprintf("The dynamic blocks of this configuration generate more than %d blocks.", maxDynamicBlocks),
			Subject: expr.Range().Ptr()}}
	}
	return nil
}

// rangeString writes a range as file:line,col for details that point
// elsewhere.
func rangeString(r hhcl.Range) string {
	if r.Filename == "" {
		return "(unknown location)"
	}
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// scrubDiagnostics removes sensitive values from summaries and details.
func scrubDiagnostics(diags hhcl.Diagnostics, sensitive []string) {
	if len(sensitive) == 0 {
		return
	}
	for _, d := range diags {
		d.Summary = Scrub(d.Summary, sensitive)
		d.Detail = Scrub(d.Detail, sensitive)
	}
}

// Scrub replaces every occurrence of a sensitive value by "(sensitive)".
// Values shorter than minScrubLen are replaced only where they stand alone
// (not inside a word or number): replacing every "a" would make text
// unreadable, but a two-character password must not be shown either.
func Scrub(s string, sensitive []string) string {
	for _, v := range sensitive {
		switch {
		case !strings.Contains(s, v):
		case len(v) >= minScrubLen:
			s = strings.ReplaceAll(s, v, "(sensitive)")
		default:
			s = scrubToken(s, v)
		}
	}
	return s
}

const minScrubLen = 3

// scrubToken replaces the occurrences of v in s that no letter or digit
// touches.
func scrubToken(s, v string) string {
	var out strings.Builder
	for {
		i := strings.Index(s, v)
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(v):])
		out.WriteString(s[:i])
		if wordRune(before) || wordRune(after) {
			out.WriteString(v)
		} else {
			out.WriteString("(sensitive)")
		}
		s = s[i+len(v):]
	}
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
