package hcl

import (
	"fmt"
	"sync"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Dynamic blocks are expanded here rather than by hcl's ext/dynblock, with
// the same language and the same diagnostics. dynblock builds the iterator
// objects (camera.key, camera.value) and a new evaluation context again for
// every expression and label it evaluates: with 10,000 generated cameras
// that was about a third of loading time and half of its allocations. Here
// each iteration builds its context once, when it is created, and is
// immutable afterwards, so sites may decode in parallel.

// forEachCheck is called with every for_each value before it is used.
type forEachCheck func(cty.Value, hhcl.Expression, *hhcl.EvalContext) hhcl.Diagnostics

// expandDynamic returns body with its dynamic blocks, at any depth, replaced
// by the blocks they generate. Expressions are evaluated in ctx.
func expandDynamic(body hhcl.Body, ctx *hhcl.EvalContext, check forEachCheck) hhcl.Body {
	return &dynamicBody{body: body, root: ctx, check: check}
}

var (
	dynamicHeader       = hhcl.BlockHeaderSchema{Type: "dynamic", LabelNames: []string{"type"}}
	dynamicSchemaLabels = &hhcl.BodySchema{
		Attributes: []hhcl.AttributeSchema{{Name: "for_each", Required: true}, {Name: "iterator"}, {Name: "labels", Required: true}},
		Blocks:     []hhcl.BlockHeaderSchema{{Type: "content"}},
	}
	dynamicSchemaNoLabels = &hhcl.BodySchema{
		Attributes: []hhcl.AttributeSchema{{Name: "for_each", Required: true}, {Name: "iterator"}},
		Blocks:     []hhcl.BlockHeaderSchema{{Type: "content"}},
	}
)

// iteration is one element of a dynamic block's for_each.
type iteration struct {
	// vars maps iterator names to their {key, value} objects: this
	// iteration's and those of the enclosing dynamic blocks.
	vars map[string]cty.Value
	// ctx is root with vars: it evaluates labels, nested for_each and,
	// when callers pass root, the generated block's expressions.
	root, ctx *hhcl.EvalContext
}

func newIteration(parent *iteration, root *hhcl.EvalContext, name string, key, value cty.Value) *iteration {
	it := &iteration{root: root}
	if parent == nil {
		it.vars = make(map[string]cty.Value, 1)
	} else {
		it.vars = make(map[string]cty.Value, len(parent.vars)+1)
		for n, v := range parent.vars {
			it.vars[n] = v
		}
	}
	// An inner iterator shadows an outer one of the same name.
	it.vars[name] = cty.ObjectVal(map[string]cty.Value{"key": key, "value": value})
	it.ctx = root.NewChild()
	it.ctx.Variables = it.vars
	return it
}

// evalContext is ctx with the iterator objects.
func (it *iteration) evalContext(ctx *hhcl.EvalContext) *hhcl.EvalContext {
	if ctx == it.root {
		return it.ctx
	}
	c := ctx.NewChild()
	c.Variables = it.vars
	return c
}

// dynamicBody is a body whose dynamic blocks are expanded when its content
// is read.
type dynamicBody struct {
	body  hhcl.Body
	root  *hhcl.EvalContext
	it    *iteration     // nil outside dynamic blocks
	marks cty.ValueMarks // of the for_each that generated this body
	check forEachCheck
	// shared, for a generated body, holds the content that all the blocks
	// of its dynamic block share.
	shared *sharedContent
	// hiddenAttrs and hiddenBlocks were returned by the PartialContent
	// that returned this body as the remainder.
	hiddenAttrs  map[string]bool
	hiddenBlocks map[string]hhcl.BlockHeaderSchema
}

// forEachCtx evaluates this body's for_each and labels expressions.
func (b *dynamicBody) forEachCtx() *hhcl.EvalContext {
	if b.it == nil {
		return b.root
	}
	return b.it.ctx
}

func (b *dynamicBody) Content(schema *hhcl.BodySchema) (*hhcl.BodyContent, hhcl.Diagnostics) {
	var raw *hhcl.BodyContent
	var diags hhcl.Diagnostics
	if b.shared != nil && len(b.hiddenAttrs) == 0 && len(b.hiddenBlocks) == 0 {
		raw, diags = b.shared.content(schema, func() (*hhcl.BodyContent, hhcl.Diagnostics) {
			return b.body.Content(b.extendSchema(schema))
		})
	} else {
		raw, diags = b.body.Content(b.extendSchema(schema))
	}
	blocks, more := b.expandBlocks(schema, raw.Blocks, false)
	return &hhcl.BodyContent{
		Attributes:       b.wrapAttributes(raw.Attributes),
		Blocks:           blocks,
		MissingItemRange: b.body.MissingItemRange(),
	}, append(diags, more...)
}

func (b *dynamicBody) PartialContent(schema *hhcl.BodySchema) (*hhcl.BodyContent, hhcl.Body, hhcl.Diagnostics) {
	raw, _, diags := b.body.PartialContent(b.extendSchema(schema))
	blocks, more := b.expandBlocks(schema, raw.Blocks, true)
	content := &hhcl.BodyContent{
		Attributes:       b.wrapAttributes(raw.Attributes),
		Blocks:           blocks,
		MissingItemRange: b.body.MissingItemRange(),
	}
	remain := *b
	remain.shared = nil
	remain.hiddenAttrs = map[string]bool{}
	remain.hiddenBlocks = map[string]hhcl.BlockHeaderSchema{}
	for n := range b.hiddenAttrs {
		remain.hiddenAttrs[n] = true
	}
	for n, s := range b.hiddenBlocks {
		remain.hiddenBlocks[n] = s
	}
	for _, a := range schema.Attributes {
		remain.hiddenAttrs[a.Name] = true
	}
	for _, s := range schema.Blocks {
		remain.hiddenBlocks[s.Type] = s
	}
	return content, &remain, append(diags, more...)
}

func (b *dynamicBody) JustAttributes() (hhcl.Attributes, hhcl.Diagnostics) {
	attrs, diags := b.body.JustAttributes()
	return b.wrapAttributes(attrs), diags
}

func (b *dynamicBody) MissingItemRange() hhcl.Range {
	return b.body.MissingItemRange()
}

// extendSchema adds dynamic blocks, and what an earlier PartialContent
// took, so that the underlying body accepts them.
func (b *dynamicBody) extendSchema(schema *hhcl.BodySchema) *hhcl.BodySchema {
	ext := &hhcl.BodySchema{
		Attributes: schema.Attributes,
		Blocks:     make([]hhcl.BlockHeaderSchema, 0, len(schema.Blocks)+1+len(b.hiddenBlocks)),
	}
	ext.Blocks = append(append(ext.Blocks, schema.Blocks...), dynamicHeader)
	for _, s := range b.hiddenBlocks {
		ext.Blocks = append(ext.Blocks, s)
	}
	if len(b.hiddenAttrs) > 0 {
		ext.Attributes = append([]hhcl.AttributeSchema(nil), schema.Attributes...)
		for n := range b.hiddenAttrs {
			ext.Attributes = append(ext.Attributes, hhcl.AttributeSchema{Name: n})
		}
	}
	return ext
}

// wrapAttributes makes the attributes' expressions see the iterators and
// carry the for_each's marks, and drops hidden ones.
func (b *dynamicBody) wrapAttributes(raw hhcl.Attributes) hhcl.Attributes {
	if b.it == nil && len(b.marks) == 0 && len(b.hiddenAttrs) == 0 {
		return raw
	}
	attrs := make(hhcl.Attributes, len(raw))
	wrap := b.it != nil || len(b.marks) > 0
	// One allocation each for the copies and the wrappers of a body.
	var copies []hhcl.Attribute
	var exprs []iterationExpr
	if wrap {
		copies = make([]hhcl.Attribute, 0, len(raw))
		exprs = make([]iterationExpr, 0, len(raw))
	}
	for name, a := range raw {
		if b.hiddenAttrs[name] {
			continue
		}
		if wrap {
			exprs = append(exprs, iterationExpr{Expression: a.Expr, it: b.it, marks: b.marks})
			copies = append(copies, *a)
			a = &copies[len(copies)-1]
			a.Expr = &exprs[len(exprs)-1]
		}
		attrs[name] = a
	}
	return attrs
}

func (b *dynamicBody) expandBlocks(schema *hhcl.BodySchema, raw hhcl.Blocks, partial bool) (hhcl.Blocks, hhcl.Diagnostics) {
	var blocks hhcl.Blocks
	var diags hhcl.Diagnostics
	for _, rb := range raw {
		if rb.Type != "dynamic" {
			if _, hidden := b.hiddenBlocks[rb.Type]; !hidden {
				blk := *rb
				blk.Body = &dynamicBody{body: rb.Body, root: b.root, it: b.it, check: b.check}
				blocks = append(blocks, &blk)
			}
			continue
		}
		typ := rb.Labels[0]
		if _, hidden := b.hiddenBlocks[typ]; hidden {
			continue
		}
		var header *hhcl.BlockHeaderSchema
		for i := range schema.Blocks {
			if schema.Blocks[i].Type == typ {
				header = &schema.Blocks[i]
				break
			}
		}
		if header == nil {
			if !partial {
				diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Unsupported block type",
					Detail: fmt.Sprintf("Blocks of type %q are not expected here.", typ), Subject: &rb.LabelRanges[0]})
			}
			continue
		}
		spec, d := b.decodeSpec(header, rb)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		each, marks := spec.forEach.Unmark()
		shared := &sharedContent{}
		if !each.IsKnown() {
			// One placeholder block whose arguments are all unknown.
			it := newIteration(b.it, b.root, spec.iterator, cty.DynamicVal, cty.DynamicVal)
			blk, d := spec.newBlock(it)
			diags = append(diags, d...)
			if blk != nil {
				blk.Body = unknownBody{body: b.generated(blk.Body, it, marks, shared), marks: marks}
				blocks = append(blocks, blk)
			}
			continue
		}
		for e := each.ElementIterator(); e.Next(); {
			key, value := e.Element()
			it := newIteration(b.it, b.root, spec.iterator, key, value)
			blk, d := spec.newBlock(it)
			diags = append(diags, d...)
			if blk != nil {
				blk.Body = b.generated(blk.Body, it, marks, shared)
				blocks = append(blocks, blk)
			}
		}
	}
	return blocks, diags
}

// generated is the body of a block that a dynamic block generated.
func (b *dynamicBody) generated(body hhcl.Body, it *iteration, marks cty.ValueMarks, shared *sharedContent) *dynamicBody {
	return &dynamicBody{body: body, root: b.root, it: it, marks: marks, check: b.check, shared: shared}
}

// sharedContent is the content of a dynamic block's content body, read once
// per schema for all the blocks it generates rather than once for each:
// only the iterators differ between them. Blocks generated at the top level
// are decoded in parallel, hence the lock.
type sharedContent struct {
	mu       sync.Mutex
	contents map[*hhcl.BodySchema]*hhcl.BodyContent
	diags    map[*hhcl.BodySchema]hhcl.Diagnostics
}

// content returns read's result for schema, reading it the first time. The
// content is shared and not to be modified; each caller gets its own copy
// of the diagnostics, which later stages rewrite in place.
func (s *sharedContent) content(schema *hhcl.BodySchema, read func() (*hhcl.BodyContent, hhcl.Diagnostics)) (*hhcl.BodyContent, hhcl.Diagnostics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contents[schema]
	if !ok {
		var diags hhcl.Diagnostics
		c, diags = read()
		if s.contents == nil {
			s.contents = map[*hhcl.BodySchema]*hhcl.BodyContent{}
			s.diags = map[*hhcl.BodySchema]hhcl.Diagnostics{}
		}
		s.contents[schema], s.diags[schema] = c, diags
	}
	var diags hhcl.Diagnostics
	for _, d := range s.diags[schema] {
		copied := *d
		diags = append(diags, &copied)
	}
	return c, diags
}

// dynamicSpec is a decoded dynamic block.
type dynamicSpec struct {
	typ      string
	typRange hhcl.Range
	defRange hhcl.Range
	forEach  cty.Value
	iterator string
	labels   []hhcl.Expression
	content  hhcl.Body
}

func (b *dynamicBody) decodeSpec(header *hhcl.BlockHeaderSchema, rb *hhcl.Block) (*dynamicSpec, hhcl.Diagnostics) {
	schema := dynamicSchemaNoLabels
	if len(header.LabelNames) > 0 {
		schema = dynamicSchemaLabels
	}
	c, diags := rb.Body.Content(schema)
	if diags.HasErrors() {
		return nil, diags
	}
	spec := &dynamicSpec{typ: header.Type, typRange: rb.LabelRanges[0], defRange: rb.DefRange, iterator: header.Type}

	if a := c.Attributes["iterator"]; a != nil {
		t, d := hhcl.AbsTraversalForExpr(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, diags
		}
		if len(t) != 1 {
			return nil, append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid dynamic iterator name",
				Detail: "Dynamic iterator must be a single variable name.", Subject: t.SourceRange().Ptr()})
		}
		spec.iterator = t.RootName()
	}

	ctx := b.forEachCtx()
	each := c.Attributes["for_each"]
	v, d := each.Expr.Value(ctx)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	if b.check != nil {
		d := b.check(v, each.Expr, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, diags
		}
	}
	invalid := func(detail string) hhcl.Diagnostics {
		return append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid dynamic for_each value",
			Detail: detail, Subject: each.Expr.Range().Ptr(), Expression: each.Expr, EvalContext: ctx})
	}
	unmarked, _ := v.Unmark()
	if !unmarked.CanIterateElements() && unmarked.Type() != cty.DynamicPseudoType {
		return nil, invalid(fmt.Sprintf("Cannot use a %s value in for_each. An iterable collection is required.", v.Type().FriendlyName()))
	}
	if unmarked.IsNull() {
		return nil, invalid("Cannot use a null value in for_each.")
	}
	spec.forEach = v

	if a := c.Attributes["labels"]; a != nil {
		exprs, d := hhcl.ExprList(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, diags
		}
		want := len(header.LabelNames)
		switch {
		case len(exprs) > want:
			return nil, append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Extraneous dynamic block label",
				Detail:  fmt.Sprintf("Blocks of type %q require %d label(s).", header.Type, want),
				Subject: exprs[want].Range().Ptr()})
		case len(exprs) < want:
			return nil, append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Insufficient dynamic block labels",
				Detail:  fmt.Sprintf("Blocks of type %q require %d label(s).", header.Type, want),
				Subject: a.Expr.Range().Ptr()})
		}
		spec.labels = exprs
	}

	switch len(c.Blocks) {
	case 0:
		return nil, append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Missing dynamic content block",
			Detail:  "A dynamic block must have a nested block of type \"content\" to describe the body of each generated block.",
			Subject: &c.MissingItemRange})
	case 1:
		spec.content = c.Blocks[0].Body
	default:
		return nil, append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Extraneous dynamic content block",
			Detail: "Only one nested content block is allowed for each dynamic block.", Subject: &c.Blocks[1].DefRange})
	}
	return spec, diags
}

// newBlock is the block that iteration it generates, before its body is
// wrapped; nil if a label is invalid.
func (s *dynamicSpec) newBlock(it *iteration) (*hhcl.Block, hhcl.Diagnostics) {
	var diags hhcl.Diagnostics
	blk := &hhcl.Block{Type: s.typ, TypeRange: s.typRange, DefRange: s.defRange, Body: s.content}
	for _, e := range s.labels {
		v, d := e.Value(it.ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, diags
		}
		invalid := func(detail string) hhcl.Diagnostics {
			return append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid dynamic block label",
				Detail: detail, Subject: e.Range().Ptr(), Expression: e, EvalContext: it.ctx})
		}
		v, err := convert.Convert(v, cty.String)
		switch {
		case err != nil:
			return nil, invalid(fmt.Sprintf("Cannot use this value as a dynamic block label: %s.", err))
		case v.IsNull():
			return nil, invalid("Cannot use a null value as a dynamic block label.")
		case !v.IsKnown():
			return nil, invalid("This value is not yet known. Dynamic block labels must be immediately-known values.")
		case v.IsMarked():
			return nil, invalid("This value has dynamic marks that make it unsuitable for use as a block label.")
		}
		blk.Labels = append(blk.Labels, v.AsString())
		blk.LabelRanges = append(blk.LabelRanges, e.Range())
	}
	return blk, diags
}

// iterationExpr is an expression of a generated block: it sees the
// iterators, and its value carries the for_each's marks.
type iterationExpr struct {
	hhcl.Expression
	it    *iteration // nil for a body only marked
	marks cty.ValueMarks
}

func (e iterationExpr) Value(ctx *hhcl.EvalContext) (cty.Value, hhcl.Diagnostics) {
	if e.it != nil {
		ctx = e.it.evalContext(ctx)
	}
	v, diags := e.Expression.Value(ctx)
	if len(e.marks) > 0 {
		v = v.WithMarks(e.marks)
	}
	return v, diags
}

// Variables leaves out the iterators, which the expression's caller does
// not provide.
func (e iterationExpr) Variables() []hhcl.Traversal {
	var out []hhcl.Traversal
	for _, t := range e.Expression.Variables() {
		if e.it != nil {
			if _, ok := e.it.vars[t.RootName()]; ok {
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// UnwrapExpression lets hcl.ExprList see a literal list through the wrapper.
func (e iterationExpr) UnwrapExpression() hhcl.Expression {
	return e.Expression
}

// unknownBody is the body of the one block generated by a dynamic block
// whose for_each is not known yet: every argument, at any depth, is unknown.
type unknownBody struct {
	body  hhcl.Body
	marks cty.ValueMarks
}

func (b unknownBody) Content(schema *hhcl.BodySchema) (*hhcl.BodyContent, hhcl.Diagnostics) {
	c, diags := b.body.Content(schema)
	return b.unknownContent(c), diags
}

func (b unknownBody) PartialContent(schema *hhcl.BodySchema) (*hhcl.BodyContent, hhcl.Body, hhcl.Diagnostics) {
	c, remain, diags := b.body.PartialContent(schema)
	return b.unknownContent(c), unknownBody{body: remain, marks: b.marks}, diags
}

func (b unknownBody) JustAttributes() (hhcl.Attributes, hhcl.Diagnostics) {
	attrs, diags := b.body.JustAttributes()
	return b.unknownAttributes(attrs), diags
}

func (b unknownBody) MissingItemRange() hhcl.Range {
	return b.body.MissingItemRange()
}

func (b unknownBody) unknownContent(c *hhcl.BodyContent) *hhcl.BodyContent {
	out := &hhcl.BodyContent{Attributes: b.unknownAttributes(c.Attributes), MissingItemRange: c.MissingItemRange}
	for _, blk := range c.Blocks {
		u := *blk
		u.Body = unknownBody{body: blk.Body, marks: b.marks}
		out.Blocks = append(out.Blocks, &u)
	}
	return out
}

func (b unknownBody) unknownAttributes(attrs hhcl.Attributes) hhcl.Attributes {
	out := make(hhcl.Attributes, len(attrs))
	for name, a := range attrs {
		u := *a
		u.Expr = hhcl.StaticExpr(cty.DynamicVal.WithMarks(b.marks), a.Expr.Range())
		out[name] = &u
	}
	return out
}
