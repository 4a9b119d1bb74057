package hcl

import (
	"math/big"
	"sync"

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
			"can":             tryfunc.CanFunc,
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
			"try":             tryfunc.TryFunc,
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
