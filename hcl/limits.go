package hcl

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// A configuration comes from operators' repositories, from USB sticks and
// from watched directories, and the agent loads it at every start: one
// file must not be able to exhaust the agent's memory, stack or time, or
// it would crash again at every restart. Loading is bounded in input
// (regular files of limited size), in nesting (the parser and evaluator
// recurse), and in evaluation (the elements for expressions iterate, the
// bytes templates build, the size of function arguments and results, and
// time). Past a bound the configuration is invalid like any other: one
// error diagnostic names the bound, and the last good configuration keeps
// running. The limits are far above what real sites use (the 10,000-camera
// example uses a fraction of a percent of each); variables so that tests
// can lower them.
var (
	// maxFileSize bounds one configuration or variables file.
	maxFileSize int64 = 16 << 20
	// maxConfigSize bounds all files of one configuration together.
	maxConfigSize int64 = 64 << 20
	// maxNesting bounds brackets, template interpolations and unary or
	// conditional operators nested in one another.
	maxNesting = 100
	// maxIterations bounds the elements all for expressions of one load
	// iterate over, nested ones counted once per evaluation.
	maxIterations int64 = 1_000_000
	// maxTemplateBytes bounds the bytes all string templates of one load
	// put together.
	maxTemplateBytes int64 = 64 << 20
	// maxValueUnits bounds a function's arguments and result: a string
	// counts its bytes, a collection its elements and theirs.
	maxValueUnits int64 = 1 << 20
	// maxProducedUnits bounds what all function calls of one load return
	// together, counted the same way.
	maxProducedUnits int64 = 8 << 20
	// maxEvalTime bounds the evaluation of one load.
	maxEvalTime = 30 * time.Second
)

// readSource reads a configuration file: a regular file (not a device, a
// FIFO or a symlink to one) of at most maxFileSize bytes, counting its size
// into *total, which may not pass maxConfigSize.
func readSource(name string, total *int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", name, st.Mode().Type())
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a configuration file may have", name, st.Size(), maxFileSize)
	}
	// The size may change while reading: read one byte more than allowed.
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(src)) > maxFileSize {
		return nil, fmt.Errorf("%s grew past %d bytes while being read", name, maxFileSize)
	}
	if *total += int64(len(src)); *total > maxConfigSize {
		return nil, fmt.Errorf("the configuration's files are more than %d bytes together", maxConfigSize)
	}
	return src, nil
}

// ReadFile reads one configuration file within the bounds Load applies:
// a regular file of at most 16 MiB (vigil fmt).
func ReadFile(name string) ([]byte, error) {
	var total int64
	return readSource(name, &total)
}

// checkNesting refuses sources nested deeper than maxNesting before the
// parser, which recurses once or more per level, runs out of stack.
// Unary and conditional operators nest too ("!!!!x", "a ? b : c ? d : e").
func checkNesting(src []byte, filename string) hhcl.Diagnostics {
	d, _ := scanSource(src, filename)
	return d
}

// secretAttributes are the arguments whose literal strings are secrets
// wherever they appear, also in a file that does not parse: a source line
// shown under a diagnostic must not show them. A user's password_hash and
// a token's hash are secrets too, and may well hold the password or token
// itself, pasted by mistake.
var secretAttributes = map[string]bool{"password": true, "token": true, "site_key": true, "password_hash": true, "hash": true}

// scanSource is checkNesting, and also returns the literal values of
// secret arguments ("password = \"...\"") and the passwords of URLs, from
// the tokens alone.
func scanSource(src []byte, filename string) (hhcl.Diagnostics, []string) {
	tokens, _ := hclsyntax.LexConfig(src, filename, hhcl.InitialPos)
	var secrets []string
	for i, t := range tokens {
		if t.Type != hclsyntax.TokenQuotedLit {
			continue
		}
		lit := string(t.Bytes)
		if i >= 3 && tokens[i-1].Type == hclsyntax.TokenOQuote && tokens[i-2].Type == hclsyntax.TokenEqual &&
			tokens[i-3].Type == hclsyntax.TokenIdent && secretAttributes[string(tokens[i-3].Bytes)] {
			// The lexer cuts a literal at each "$" (an argon2id hash
			// has several): the secret is the whole run.
			whole := lit
			for j := i + 1; j < len(tokens) && tokens[j].Type == hclsyntax.TokenQuotedLit; j++ {
				whole += string(tokens[j].Bytes)
			}
			secrets = append(secrets, whole)
		}
		if u, err := url.Parse(lit); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				secrets = append(secrets, pw)
			}
		}
	}
	depth, ops := 0, 0
	var stack []int // ops at each open bracket, restored when it closes
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			stack = append(stack, ops)
			ops = 0
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
				ops = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenQuestion:
			ops++
		case hclsyntax.TokenNewline, hclsyntax.TokenComma:
			ops = 0
		}
		if depth+ops > maxNesting {
			return hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "Configuration nested too deeply",
				Detail:  fmt.Sprintf("Brackets, templates and operators are nested more than %d levels deep here; vigil does not evaluate configurations this deep.", maxNesting),
				Subject: t.Range.Ptr()}}, secrets
		}
	}
	return nil, secrets
}

// budget is what one load may spend evaluating; decodeRoot evaluates sites
// in parallel, so it is safe for concurrent use.
type budget struct {
	deadline   time.Time
	iterations atomic.Int64
	bytes      atomic.Int64
	produced   atomic.Int64
	checks     atomic.Int64
	over       atomic.Bool // spent != "": read on every check, without the lock

	mu      sync.Mutex
	spent   string // the first bound passed, "" while within them
	subject *hhcl.Range
	funcs   map[string]function.Function
}

func newBudget() *budget { return &budget{deadline: time.Now().Add(maxEvalTime)} }

// exhaust records the first bound passed.
func (b *budget) exhaust(what string, subject *hhcl.Range) {
	b.mu.Lock()
	if b.spent == "" {
		b.spent, b.subject = what, subject
	}
	b.mu.Unlock()
	b.over.Store(true)
}

func (b *budget) exhausted() bool { return b.over.Load() }

// check exhausts the budget when the evaluation ran out of time; the
// clock is read every 64 checks (they run for every template part and
// function call of thousands of cameras).
func (b *budget) check(at hclsyntax.Node) bool {
	if b.checks.Add(1)%64 == 0 && time.Now().After(b.deadline) {
		var subject *hhcl.Range
		if at != nil {
			subject = at.Range().Ptr()
		}
		b.exhaust(fmt.Sprintf("its evaluation took more than %s", maxEvalTime), subject)
	}
	return !b.over.Load()
}

// diagnostic is the error of a load that passed a bound, nil otherwise.
// It is added once at the end: expressions that hit the bound evaluate to
// unknown values without errors of their own (one error, not one per
// iteration), and can() or try() may have swallowed an error in between.
func (b *budget) diagnostic() *hhcl.Diagnostic {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spent == "" {
		return nil
	}
	return &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Configuration too costly to evaluate",
		Detail: "Evaluation stopped here: " + b.spent + ". Such a configuration would exhaust the agent's memory or time; " +
			"it is refused like any invalid configuration, and a running site keeps its last good one.",
		Subject: b.subject}
}

// bound makes the for expressions and templates under n spend from b.
// It runs after every other walk of the syntax tree (the wrappers hide the
// nodes they wrap from later walks).
func (b *budget) bound(n hclsyntax.Node) {
	hclsyntax.VisitAll(n, func(n hclsyntax.Node) hhcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ForExpr:
			e.CollExpr = b.wrap(e.CollExpr, b.iterate)
		case *hclsyntax.TemplateExpr:
			for i, p := range e.Parts {
				if _, literal := p.(*hclsyntax.LiteralValueExpr); !literal {
					e.Parts[i] = b.wrap(p, b.concat)
				}
			}
		}
		return nil
	})
}

// iterate spends a for expression's collection.
func (b *budget) iterate(v cty.Value, at hclsyntax.Node) {
	if v.IsKnown() && !v.IsNull() && v.CanIterateElements() {
		if b.iterations.Add(int64(v.LengthInt())) > maxIterations {
			b.exhaust(fmt.Sprintf("its for expressions iterate over more than %d elements", maxIterations), at.Range().Ptr())
		}
	}
}

// concat spends a template part.
func (b *budget) concat(v cty.Value, at hclsyntax.Node) {
	if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		if b.bytes.Add(int64(len(v.AsString()))) > maxTemplateBytes {
			b.exhaust(fmt.Sprintf("its string templates build more than %d bytes", maxTemplateBytes), at.Range().Ptr())
		}
	}
}

// boundedExpr is an expression whose value is spent from a budget; once
// the budget is exhausted it is unknown, so that loops around it stop
// building. It is a ParenthesesExpr underneath so that walks of the syntax
// tree (Variables, which orders locals) still see the wrapped expression.
type boundedExpr struct {
	*hclsyntax.ParenthesesExpr
	b     *budget
	spend func(cty.Value, hclsyntax.Node)
}

func (b *budget) wrap(e hclsyntax.Expression, spend func(cty.Value, hclsyntax.Node)) hclsyntax.Expression {
	return &boundedExpr{ParenthesesExpr: &hclsyntax.ParenthesesExpr{Expression: e, SrcRange: e.Range()}, b: b, spend: spend}
}

func (e *boundedExpr) Value(ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics) {
	if !e.b.check(e) {
		return cty.DynamicVal, nil
	}
	v, diags := e.Expression.Value(ctx)
	uv, _ := v.Unmark()
	e.spend(uv, e)
	if e.b.exhausted() {
		return cty.DynamicVal, diags
	}
	return v, diags
}

// functions is the function table bounded by b. Functions that only read
// their arguments are left as they are; the others may not take or make
// values over maxValueUnits, and those whose result can be far larger
// than their arguments (range, setproduct, replace, indent, format widths)
// are checked before they run.
func (b *budget) functions() map[string]function.Function {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.funcs != nil {
		return b.funcs
	}
	b.funcs = map[string]function.Function{}
	for name, f := range functions() {
		if readOnlyFuncs[name] {
			b.funcs[name] = f
			continue
		}
		b.funcs[name] = b.boundFunc(name, f)
	}
	return b.funcs
}

// readOnlyFuncs return small values, or parts of their arguments, whatever
// their arguments' size; can and try take expressions, not values.
var readOnlyFuncs = map[string]bool{
	"abs": true, "can": true, "try": true, "ceil": true, "floor": true, "coalesce": true, "contains": true,
	"element": true, "length": true, "log": true, "lookup": true, "max": true, "min": true, "parseint": true,
	"pow": true, "signum": true, "strlen": true, "tobool": true, "tonumber": true, "formatdate": true, "timeadd": true,
}

var errTooLarge = errors.New("too large")

func (b *budget) boundFunc(name string, f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if !b.check(nil) {
				return cty.UnknownVal(retType), nil
			}
			limit := func(what string) (cty.Value, error) {
				msg := fmt.Sprintf("%s in a call of %s() is more than %d bytes or elements", what, name, maxValueUnits)
				b.exhaust(msg, nil)
				return cty.UnknownVal(retType), fmt.Errorf("%s: %w", msg, errTooLarge)
			}
			units := int64(0)
			for _, a := range args {
				if units += valueUnits(a, maxValueUnits-units+1); units > maxValueUnits {
					return limit("the arguments")
				}
			}
			if growth(name, args) > maxValueUnits {
				return limit("the result")
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			n := valueUnits(v, maxValueUnits+1)
			if n > maxValueUnits {
				return limit("the result")
			}
			if b.produced.Add(n) > maxProducedUnits {
				msg := fmt.Sprintf("its function calls return more than %d bytes or elements together", maxProducedUnits)
				b.exhaust(msg, nil)
				return cty.UnknownVal(retType), fmt.Errorf("%s: %w", msg, errTooLarge)
			}
			return v, nil
		},
	})
}

// valueUnits is v's size in bytes of strings plus elements, counted up to
// limit (the count stops there).
func valueUnits(v cty.Value, limit int64) int64 {
	if v, _ := v.Unmark(); v.Type().IsPrimitiveType() {
		// The common case, without a walk.
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			return 1 + int64(len(v.AsString()))
		}
		return 1
	}
	var n int64
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if n > limit {
			return false, errTooLarge
		}
		v, _ = v.Unmark()
		n++
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			n += int64(len(v.AsString()))
		}
		return true, nil
	})
	return n
}

// growth estimates, before the call, the size of the result of the
// functions whose result can be far larger than their arguments; 0 for
// the others.
func growth(name string, args []cty.Value) int64 {
	known := func(i int) (cty.Value, bool) {
		if i >= len(args) {
			return cty.NilVal, false
		}
		v, _ := args[i].Unmark()
		return v, v.IsKnown() && !v.IsNull()
	}
	str := func(i int) int64 {
		if v, ok := known(i); ok && v.Type() == cty.String {
			return int64(len(v.AsString()))
		}
		return 0
	}
	num := func(i int) float64 {
		if v, ok := known(i); ok && v.Type() == cty.Number {
			f, _ := v.AsBigFloat().Float64()
			return f
		}
		return 0
	}
	switch name {
	case "range":
		// range(limit), range(start, limit) or range(start, limit, step).
		start, limit, step := 0.0, num(0), 1.0
		if len(args) > 1 {
			start, limit = num(0), num(1)
		}
		if len(args) > 2 {
			step = num(2)
		}
		if step == 0 {
			return 0
		}
		n := (limit - start) / step
		if n > float64(maxValueUnits) {
			return maxValueUnits + 1
		}
		return int64(max(n, 0))
	case "setproduct":
		// Each of the product's tuples has one element per argument.
		n := int64(len(args))
		for i := range args {
			v, ok := known(i)
			if !ok || !v.CanIterateElements() {
				return 0
			}
			if n *= int64(v.LengthInt()); n > maxValueUnits {
				return n
			}
		}
		return n
	case "replace":
		// Every match (at most one a byte) becomes the replacement.
		return str(0) + (str(0)+1)*str(2)
	case "indent":
		return str(1) + int64(strings.Count(stringOf(args, 1), "\n")+1)*int64(max(num(0), 0))
	case "format":
		return formatWidths(stringOf(args, 0))
	case "formatlist":
		rows := int64(1)
		for i := 1; i < len(args); i++ {
			if v, ok := known(i); ok && v.CanIterateElements() {
				rows = max(rows, int64(v.LengthInt()))
			}
		}
		return formatWidths(stringOf(args, 0)) * rows
	}
	return 0
}

func stringOf(args []cty.Value, i int) string {
	if i >= len(args) {
		return ""
	}
	v, _ := args[i].Unmark()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// formatWidths sums the widths and precisions of a format string's verbs
// ("%09999999d" pads to ten million bytes).
func formatWidths(f string) int64 {
	var sum int64
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("-+# 0123456789.[]", f[j]) >= 0 {
			j++
		}
		for _, run := range strings.FieldsFunc(f[i+1:j], func(r rune) bool { return r < '0' || r > '9' }) {
			n, err := strconv.ParseInt(run, 10, 64)
			if err != nil || n > maxValueUnits {
				return maxValueUnits + 1
			}
			sum += n
		}
		i = j - 1
	}
	return sum
}
