package hcl

import (
	"math/big"
	"sync"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/customdecode"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

var (
	funcsOnce sync.Once
	funcs     map[string]function.Function
)

// functions is the function table of every expression: cty's standard
// library under Terraform's names, plus try and can.
func functions() map[string]function.Function {
	funcsOnce.Do(func() {
		funcs = map[string]function.Function{
			"abs":             stdlib.AbsoluteFunc,
			"can":             keepSensitive(tryfunc.CanFunc),
			"ceil":            smallInts(stdlib.CeilFunc),
			"chomp":           stdlib.ChompFunc,
			"chunklist":       stdlib.ChunklistFunc,
			"coalesce":        stdlib.CoalesceFunc,
			"coalescelist":    stdlib.CoalesceListFunc,
			"compact":         stdlib.CompactFunc,
			"concat":          stdlib.ConcatFunc,
			"contains":        stdlib.ContainsFunc,
			"csvdecode":       stdlib.CSVDecodeFunc,
			"distinct":        stdlib.DistinctFunc,
			"element":         stdlib.ElementFunc,
			"flatten":         stdlib.FlattenFunc,
			"floor":           smallInts(stdlib.FloorFunc),
			"format":          stdlib.FormatFunc,
			"formatdate":      stdlib.FormatDateFunc,
			"formatlist":      stdlib.FormatListFunc,
			"indent":          stdlib.IndentFunc,
			"join":            stdlib.JoinFunc,
			"jsondecode":      stdlib.JSONDecodeFunc,
			"jsonencode":      stdlib.JSONEncodeFunc,
			"keys":            stdlib.KeysFunc,
			"length":          stdlib.LengthFunc,
			"log":             stdlib.LogFunc,
			"lookup":          stdlib.LookupFunc,
			"lower":           stdlib.LowerFunc,
			"max":             stdlib.MaxFunc,
			"merge":           stdlib.MergeFunc,
			"min":             stdlib.MinFunc,
			"parseint":        stdlib.ParseIntFunc,
			"pow":             stdlib.PowFunc,
			"range":           stdlib.RangeFunc,
			"regex":           stdlib.RegexFunc,
			"regexall":        stdlib.RegexAllFunc,
			"replace":         stdlib.ReplaceFunc,
			"reverse":         stdlib.ReverseListFunc,
			"setintersection": stdlib.SetIntersectionFunc,
			"setproduct":      stdlib.SetProductFunc,
			"setsubtract":     stdlib.SetSubtractFunc,
			"setunion":        stdlib.SetUnionFunc,
			"signum":          stdlib.SignumFunc,
			"slice":           stdlib.SliceFunc,
			"sort":            stdlib.SortFunc,
			"split":           stdlib.SplitFunc,
			"strlen":          stdlib.StrlenFunc,
			"strrev":          stdlib.ReverseFunc,
			"substr":          stdlib.SubstrFunc,
			"timeadd":         stdlib.TimeAddFunc,
			"title":           stdlib.TitleFunc,
			"tobool":          stdlib.MakeToFunc(cty.Bool),
			"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
			"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
			"tonumber":        stdlib.MakeToFunc(cty.Number),
			"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
			"tostring":        stdlib.MakeToFunc(cty.String),
			"trim":            stdlib.TrimFunc,
			"trimprefix":      stdlib.TrimPrefixFunc,
			"trimspace":       stdlib.TrimSpaceFunc,
			"trimsuffix":      stdlib.TrimSuffixFunc,
			"try":             keepSensitive(tryfunc.TryFunc),
			"upper":           stdlib.UpperFunc,
			"values":          stdlib.ValuesFunc,
			"zipmap":          stdlib.ZipmapFunc,
		}
	})
	return funcs
}

// smallInts wraps a numeric function so that a whole-number result that fits
// in an int64 comes back as a low-precision number. Division yields 512-bit
// numbers, and turning those into strings in a template ("cam${floor(i /
// 4)}") costs a shortest-decimal search each time: with thousands of
// dynamic blocks that dominated loading.
func smallInts(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil || !v.IsKnown() || v.IsNull() {
				return v, err
			}
			bf := v.AsBigFloat()
			if i, acc := bf.Int64(); acc == big.Exact && bf.IsInt() {
				return cty.NumberIntVal(i), nil
			}
			return v, nil
		},
	})
}

// keepSensitive wraps can or try, whose arguments are expressions rather
// than values, so that the result is sensitive when an expression refers to
// a sensitive value. Whether an expression fails is information about the
// values it reads: can(regex("^${c}", var.pw)) over a character set spelt
// a secret out through diagnostics.
func keepSensitive(f function.Function) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        func(args []cty.Value) (cty.Type, error) { return f.ReturnTypeForValues(args) },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			for _, a := range args {
				if readsMarked(customdecode.ExpressionClosureFromVal(a)) {
					return v.Mark(markSensitive), nil
				}
			}
			return v, nil
		},
	})
}

// readsMarked reports whether an expression refers to a marked value. A
// reference that cannot be followed (it is what failed) counts its root.
func readsMarked(c *customdecode.ExpressionClosure) bool {
	for _, t := range c.Expression.Variables() {
		v, diags := t.TraverseAbs(c.EvalContext)
		if diags.HasErrors() {
			v, diags = hhcl.Traversal{t[0]}.TraverseAbs(c.EvalContext)
			if diags.HasErrors() {
				continue
			}
		}
		if v.ContainsMarked() {
			return true
		}
	}
	return false
}
