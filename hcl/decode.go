package hcl

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"vigil/hcl/spec"
)

func attrs(names ...string) []hhcl.AttributeSchema {
	out := make([]hhcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hhcl.AttributeSchema{Name: n}
	}
	return out
}

// Required arguments are checked by the validation rules, not the schemas,
// so that a spec arriving over the API is held to the same rules.
var (
	domainSchema = &hhcl.BodySchema{Attributes: attrs("description")}
	siteSchema   = &hhcl.BodySchema{
		Attributes: attrs("parent", "description", "virtual", "keepalive", "failback",
			"max_concurrent_failovers", "virtual_ip", "time_sync", "time_zone", "event_retention", "audit_retention"),
		Blocks: []hhcl.BlockHeaderSchema{
			{Type: "server", LabelNames: []string{"name"}},
			{Type: "group", LabelNames: []string{"name"}},
			{Type: "camera", LabelNames: []string{"name"}},
			{Type: "balancing"},
			{Type: "notifier", LabelNames: []string{"name"}},
			{Type: "alert", LabelNames: []string{"name"}},
			{Type: "hold", LabelNames: []string{"name"}},
			{Type: "user", LabelNames: []string{"name"}},
			{Type: "token", LabelNames: []string{"name"}},
		},
	}
	serverSchema = &hhcl.BodySchema{
		Attributes: attrs("address", "port", "external_address", "external_port", "kind", "max_cameras"),
		Blocks: []hhcl.BlockHeaderSchema{
			{Type: "storage", LabelNames: []string{"name"}},
			{Type: "network"},
		},
	}
	storageSchema = &hhcl.BodySchema{Attributes: attrs("path", "max_size", "max_age", "min_free")}
	networkSchema = &hhcl.BodySchema{Blocks: []hhcl.BlockHeaderSchema{
		{Type: "interface", LabelNames: []string{"name"}},
		{Type: "route"},
	}}
	interfaceSchema = &hhcl.BodySchema{Attributes: attrs("addresses", "mtu", "dhcp")}
	routeSchema     = &hhcl.BodySchema{Attributes: attrs("destination", "gateway", "interface")}
	groupSchema     = &hhcl.BodySchema{Attributes: attrs("servers")}
	cameraSchema    = &hhcl.BodySchema{Attributes: attrs("url", "username", "password", "server", "backup",
		"group", "locked", "redundancy", "transport", "tls_fingerprint", "tls_insecure", "retention",
		"segment_duration", "stall_timeout", "balance", "labels")}
	holdSchema      = &hhcl.BodySchema{Attributes: attrs("cameras", "from", "to", "until", "reason")}
	balancingSchema = &hhcl.BodySchema{Attributes: attrs("enabled", "history_days", "min_days_between_moves",
		"window", "weekdays", "cameras", "labels", "tolerance_percent")}
)

// decoder turns expanded blocks into the model, collecting diagnostics.
type decoder struct {
	ctx   *hhcl.EvalContext
	diags hhcl.Diagnostics
	// incomplete is set when a value was unknown because of an error
	// reported elsewhere (a variable without a value).
	incomplete bool
	// sensitive are the values of sensitive variables.
	sensitive []string
	// marks is set when a variable is sensitive: only then may values
	// carry its mark.
	marks bool
	// unknowns is set when a variable or local value is not wholly known:
	// only then may values be partly unknown.
	unknowns bool
}

func (d *decoder) errorf(r hhcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: r.Ptr()})
}

func (d *decoder) content(b *hhcl.Block, schema *hhcl.BodySchema) *hhcl.BodyContent {
	c, diags := b.Body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c
}

// value evaluates an attribute and converts it to ty. It reports false for
// errors (already reported), null (meaning "not set") and unknown values
// (which follow from an error reported elsewhere).
func (d *decoder) value(a *hhcl.Attribute, ty cty.Type, sensitiveOK bool) (cty.Value, bool) {
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	// Only sensitive variables mark values. A deep walk, costly across
	// 10,000 cameras, only for collections and only if there are any.
	if v.IsMarked() || d.marks && !v.Type().IsPrimitiveType() && v.ContainsMarked() {
		if !sensitiveOK {
			d.errorf(a.Expr.Range(), "Sensitive value not allowed here",
				"The value of %q comes from a sensitive variable. Only secrets may hold sensitive values (a camera's password and url, a notifier's password and webhook secret): every other argument is shown in plans and status output.", a.Name)
			return cty.NilVal, false
		}
		v, _ = v.UnmarkDeep()
	}
	// The deep check walks collections, allocating at each element.
	if !v.IsKnown() || d.unknowns && !v.IsWhollyKnown() {
		d.incomplete = true
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	if l, ok := homogeneousList(v, ty); ok {
		return l, true
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(a.Expr.Range(), "Incorrect value type", "Inappropriate value for %q: %s.", a.Name, err)
		return cty.NilVal, false
	}
	return cv, true
}

// nullElement reports a null element of list or map attribute a; list and
// labels check while they copy the elements.
func (d *decoder) nullElement(a *hhcl.Attribute) {
	d.errorf(a.Expr.Range(), "Incorrect value type", "%q must not contain null elements.", a.Name)
}

// The collection types of arguments, built once.
var (
	listOfStrings = cty.List(cty.String)
	mapOfStrings  = cty.Map(cty.String)
)

// lookup returns attribute name, or nil if it is not set, and records its
// range in rs.
func lookup(at hhcl.Attributes, name string, rs map[string]spec.Range) *hhcl.Attribute {
	a := at[name]
	if a != nil {
		rs[name] = specRange(a.Expr.Range())
	}
	return a
}

func (d *decoder) str(at hhcl.Attributes, name string, dst *string, rs map[string]spec.Range) {
	d.strSensitive(at, name, dst, rs, false)
}

// enum decodes a string attribute into a string type of the model (a
// server's kind, a camera's redundancy); the validator checks its value.
func enum[T ~string](d *decoder, at hhcl.Attributes, name string, dst *T, rs map[string]spec.Range) {
	s := string(*dst)
	d.str(at, name, &s, rs)
	*dst = T(s)
}

func (d *decoder) strSensitive(at hhcl.Attributes, name string, dst *string, rs map[string]spec.Range, sensitiveOK bool) {
	a := lookup(at, name, rs)
	if a == nil {
		return
	}
	if v, ok := d.value(a, cty.String, sensitiveOK); ok {
		*dst = v.AsString()
	}
}

func (d *decoder) boolean(at hhcl.Attributes, name string, dst *bool, rs map[string]spec.Range) {
	a := lookup(at, name, rs)
	if a == nil {
		return
	}
	if v, ok := d.value(a, cty.Bool, false); ok {
		*dst = v.True()
	}
}

func (d *decoder) integer(at hhcl.Attributes, name string, dst *int, rs map[string]spec.Range) {
	a := lookup(at, name, rs)
	if a == nil {
		return
	}
	v, ok := d.value(a, cty.Number, false)
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errorf(a.Expr.Range(), "Invalid number", "%q must be a whole number.", name)
		return
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<31 || i < -(1<<31) {
		d.errorf(a.Expr.Range(), "Invalid number", "%q is out of range.", name)
		return
	}
	*dst = int(i)
}

func (d *decoder) float(at hhcl.Attributes, name string, dst *float64, rs map[string]spec.Range) {
	a := lookup(at, name, rs)
	if a == nil {
		return
	}
	v, ok := d.value(a, cty.Number, false)
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	if bf.IsInf() {
		d.errorf(a.Expr.Range(), "Invalid number", "%q must be finite.", name)
		return
	}
	*dst, _ = bf.Float64()
}

func (d *decoder) list(at hhcl.Attributes, name string, dst *[]string, rs map[string]spec.Range) {
	a := lookup(at, name, rs)
	if a == nil {
		return
	}
	v, ok := d.value(a, listOfStrings, false)
	if !ok {
		return
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.nullElement(a)
			return
		}
		out = append(out, e.AsString())
	}
	*dst = out
	// Ranges of the elements of a literal list, so that a diagnostic can
	// point at the one element that is wrong. (ExprList of anything else
	// builds an error to discard: not worth it for every camera.)
	if _, literal := hhcl.UnwrapExpression(a.Expr).(*hclsyntax.TupleConsExpr); !literal {
		return
	}
	if exprs, diags := hhcl.ExprList(a.Expr); !diags.HasErrors() && len(exprs) == len(out) {
		for i, e := range exprs {
			rs[elemKey(name, i)] = specRange(e.Range())
		}
	}
}

// homogeneousList turns a tuple whose elements all have the element type
// of list type ty into that list directly. cty's conversion unifies the
// element types of a tuple pairwise, which took seconds for a literal of
// 20,000 names.
func homogeneousList(v cty.Value, ty cty.Type) (cty.Value, bool) {
	if !ty.IsListType() || !v.Type().IsTupleType() || v.LengthInt() == 0 {
		return cty.NilVal, false
	}
	for _, et := range v.Type().TupleElementTypes() {
		if !et.Equals(ty.ElementType()) {
			return cty.NilVal, false
		}
	}
	return cty.ListVal(v.AsValueSlice()), true
}

// elemKey is the Ranges key of element i of list attribute name.
func elemKey(name string, i int) string {
	return name + "." + strconv.Itoa(i)
}

func (d *decoder) labels(at hhcl.Attributes, name string, dst *map[string]string, rs map[string]spec.Range) {
	a := lookup(at, name, rs)
	if a == nil {
		return
	}
	v, ok := d.value(a, mapOfStrings, false)
	if !ok {
		return
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			d.nullElement(a)
			return
		}
		out[k.AsString()] = e.AsString()
	}
	*dst = out
}

func (d *decoder) duration(at hhcl.Attributes, name string, dst *time.Duration, rs map[string]spec.Range) {
	parsed(d, at, name, dst, rs, "Invalid duration", spec.ParseDuration)
}

func (d *decoder) size(at hhcl.Attributes, name string, dst *int64, rs map[string]spec.Range) {
	parsed(d, at, name, dst, rs, "Invalid size", spec.ParseSize)
}

// parsed decodes string attribute name with parse, whose error is reported
// under summary. An empty string leaves dst alone.
func parsed[T any](d *decoder, at hhcl.Attributes, name string, dst *T, rs map[string]spec.Range, summary string, parse func(string) (T, error)) {
	var s string
	d.str(at, name, &s, rs)
	if s == "" {
		return
	}
	v, err := parse(s)
	if err != nil {
		d.errorf(hclRange(rs[name]), summary, "%s.", err)
		return
	}
	*dst = v
}

func newRanges(b *hhcl.Block) map[string]spec.Range {
	rs := make(map[string]spec.Range, 8) // a small map fits a camera without growing
	if len(b.LabelRanges) > 0 {
		rs["name"] = specRange(b.LabelRanges[0])
	}
	return rs
}

func (d *decoder) domain(b *hhcl.Block) *spec.Domain {
	dom := &spec.Domain{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	c := d.content(b, domainSchema)
	d.str(c.Attributes, "description", &dom.Description, dom.Ranges)
	return dom
}

func (d *decoder) site(b *hhcl.Block) *spec.Site {
	s := newSite()
	s.Name, s.DeclRange, s.Ranges = b.Labels[0], specRange(b.DefRange), newRanges(b)
	c := d.content(b, siteSchema)
	at := c.Attributes
	d.str(at, "parent", &s.Parent, s.Ranges)
	d.str(at, "description", &s.Description, s.Ranges)
	d.boolean(at, "virtual", &s.Virtual, s.Ranges)
	d.duration(at, "keepalive", &s.Keepalive, s.Ranges)
	d.boolean(at, "failback", &s.Failback, s.Ranges)
	d.integer(at, "max_concurrent_failovers", &s.MaxConcurrentFailovers, s.Ranges)
	d.str(at, "virtual_ip", &s.VirtualIP, s.Ranges)
	d.boolean(at, "time_sync", &s.TimeSync, s.Ranges)
	d.str(at, "time_zone", &s.TimeZone, s.Ranges)
	d.duration(at, "event_retention", &s.EventRetention, s.Ranges)
	d.duration(at, "audit_retention", &s.AuditRetention, s.Ranges)
	for _, blk := range c.Blocks {
		switch blk.Type {
		case "server":
			s.Servers = append(s.Servers, d.server(blk))
		case "group":
			g := &spec.Group{Name: blk.Labels[0], DeclRange: specRange(blk.DefRange), Ranges: newRanges(blk)}
			d.list(d.content(blk, groupSchema).Attributes, "servers", &g.Servers, g.Ranges)
			s.Groups = append(s.Groups, g)
		case "camera":
			s.Cameras = append(s.Cameras, d.camera(blk))
		case "balancing":
			if s.Balancing != nil {
				d.errorf(blk.DefRange, "Duplicate balancing block", "Site %q already has a balancing block at %s; a site has at most one.", s.Name, rangeString(hclRange(s.Balancing.DeclRange)))
				continue
			}
			s.Balancing = d.balancing(blk)
		case "notifier":
			s.Notifiers = append(s.Notifiers, d.notifier(blk))
		case "alert":
			s.Alerts = append(s.Alerts, d.alert(blk))
		case "hold":
			s.Holds = append(s.Holds, d.hold(blk, s.TimeZone))
		case "user":
			s.Users = append(s.Users, d.user(blk))
		case "token":
			s.Tokens = append(s.Tokens, d.token(blk))
		}
	}
	return s
}

func (d *decoder) server(b *hhcl.Block) *spec.Server {
	v := newServer()
	v.Name, v.DeclRange, v.Ranges = b.Labels[0], specRange(b.DefRange), newRanges(b)
	c := d.content(b, serverSchema)
	at := c.Attributes
	d.str(at, "address", &v.Address, v.Ranges)
	d.integer(at, "port", &v.Port, v.Ranges)
	d.str(at, "external_address", &v.ExternalAddress, v.Ranges)
	d.integer(at, "external_port", &v.ExternalPort, v.Ranges)
	enum(d, at, "kind", &v.Kind, v.Ranges)
	d.integer(at, "max_cameras", &v.MaxCameras, v.Ranges)
	for _, blk := range c.Blocks {
		switch blk.Type {
		case "storage":
			v.Storage = append(v.Storage, d.storage(blk))
		case "network":
			if v.Network != nil {
				d.errorf(blk.DefRange, "Duplicate network block", "Server %q already has a network block at %s; a server has at most one.", v.Name, rangeString(hclRange(v.Network.DeclRange)))
				continue
			}
			v.Network = d.network(blk)
		}
	}
	return v
}

func (d *decoder) storage(b *hhcl.Block) *spec.Storage {
	st := &spec.Storage{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	at := d.content(b, storageSchema).Attributes
	d.str(at, "path", &st.Path, st.Ranges)
	d.size(at, "max_size", &st.MaxSize, st.Ranges)
	d.duration(at, "max_age", &st.MaxAge, st.Ranges)
	var minFree string
	d.str(at, "min_free", &minFree, st.Ranges)
	if p, ok := strings.CutSuffix(strings.TrimSpace(minFree), "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			d.errorf(hclRange(st.Ranges["min_free"]), "Invalid free-space floor", "%q is not a percentage: write a size such as \"10GB\" or a percentage such as \"5%%\".", minFree)
		} else {
			st.MinFreePercent = f
		}
	} else if minFree != "" {
		n, err := spec.ParseSize(minFree)
		if err != nil {
			d.errorf(hclRange(st.Ranges["min_free"]), "Invalid free-space floor", "%s; a percentage such as \"5%%\" is also accepted.", err)
		} else {
			st.MinFree = n
		}
	}
	return st
}

func (d *decoder) network(b *hhcl.Block) *spec.Network {
	n := &spec.Network{DeclRange: specRange(b.DefRange)}
	for _, blk := range d.content(b, networkSchema).Blocks {
		switch blk.Type {
		case "interface":
			i := &spec.Interface{Name: blk.Labels[0], DeclRange: specRange(blk.DefRange), Ranges: newRanges(blk)}
			at := d.content(blk, interfaceSchema).Attributes
			d.list(at, "addresses", &i.Addresses, i.Ranges)
			d.integer(at, "mtu", &i.MTU, i.Ranges)
			d.boolean(at, "dhcp", &i.DHCP, i.Ranges)
			n.Interfaces = append(n.Interfaces, i)
		case "route":
			r := &spec.Route{DeclRange: specRange(blk.DefRange), Ranges: map[string]spec.Range{}}
			at := d.content(blk, routeSchema).Attributes
			d.str(at, "destination", &r.Destination, r.Ranges)
			d.str(at, "gateway", &r.Gateway, r.Ranges)
			d.str(at, "interface", &r.Interface, r.Ranges)
			n.Routes = append(n.Routes, r)
		}
	}
	return n
}

func (d *decoder) camera(b *hhcl.Block) *spec.Camera {
	c := newCamera()
	c.Name, c.DeclRange, c.Ranges = b.Labels[0], specRange(b.DefRange), newRanges(b)
	at := d.content(b, cameraSchema).Attributes
	d.strSensitive(at, "url", &c.URL, c.Ranges, true)
	// A sensitive value may be the URL's password, which Redacted hides,
	// but nowhere else in it.
	if c.URL != "" && Scrub(spec.RedactURL(c.URL, nil), d.sensitive) != spec.RedactURL(c.URL, nil) {
		d.errorf(hclRange(c.Ranges["url"]), "Sensitive value not allowed here",
			"The url of camera %q holds a value from a sensitive variable outside its password part (rtsp://user:password@host/...). Only the password may be sensitive: the rest of the URL is shown in plans and status output.", c.Name)
		c.URL = ""
	}
	d.str(at, "username", &c.Username, c.Ranges)
	d.strSensitive(at, "password", &c.Password, c.Ranges, true)
	d.str(at, "server", &c.Server, c.Ranges)
	d.list(at, "backup", &c.Backup, c.Ranges)
	d.str(at, "group", &c.Group, c.Ranges)
	d.boolean(at, "locked", &c.Locked, c.Ranges)
	enum(d, at, "redundancy", &c.Redundancy, c.Ranges)
	enum(d, at, "transport", &c.Transport, c.Ranges)
	d.str(at, "tls_fingerprint", &c.TLSFingerprint, c.Ranges)
	c.TLSFingerprint = spec.CanonicalCertFingerprint(c.TLSFingerprint)
	d.boolean(at, "tls_insecure", &c.TLSInsecure, c.Ranges)
	d.duration(at, "retention", &c.Retention, c.Ranges)
	d.duration(at, "segment_duration", &c.SegmentDuration, c.Ranges)
	d.duration(at, "stall_timeout", &c.StallTimeout, c.Ranges)
	d.boolean(at, "balance", &c.Balance, c.Ranges)
	d.labels(at, "labels", &c.Labels, c.Ranges)
	return c
}

func (d *decoder) balancing(b *hhcl.Block) *spec.Balancing {
	bl := newBalancing()
	bl.DeclRange, bl.Ranges = specRange(b.DefRange), map[string]spec.Range{}
	at := d.content(b, balancingSchema).Attributes
	d.boolean(at, "enabled", &bl.Enabled, bl.Ranges)
	d.integer(at, "history_days", &bl.HistoryDays, bl.Ranges)
	d.integer(at, "min_days_between_moves", &bl.MinDaysBetweenMoves, bl.Ranges)
	parsed(d, at, "window", &bl.Window, bl.Ranges, "Invalid hour window", spec.ParseHourWindow)
	var days []string
	d.list(at, "weekdays", &days, bl.Ranges)
	seen := map[time.Weekday]bool{}
	for _, s := range days {
		wd, err := spec.ParseWeekday(s)
		if err != nil {
			d.errorf(hclRange(bl.Ranges["weekdays"]), "Invalid weekday", "%s.", err)
			continue
		}
		if seen[wd] {
			d.errorf(hclRange(bl.Ranges["weekdays"]), "Duplicate weekday", "%q is listed twice.", s)
			continue
		}
		seen[wd] = true
		bl.Weekdays = append(bl.Weekdays, wd)
	}
	d.list(at, "cameras", &bl.Cameras, bl.Ranges)
	d.labels(at, "labels", &bl.Labels, bl.Ranges)
	d.float(at, "tolerance_percent", &bl.TolerancePercent, bl.Ranges)
	return bl
}

func (d *decoder) hold(b *hhcl.Block, zone string) *spec.Hold {
	h := &spec.Hold{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	at := d.content(b, holdSchema).Attributes
	d.list(at, "cameras", &h.Cameras, h.Ranges)
	// A date alone is midnight in the site's time zone (an unknown zone is
	// reported by validation; UTC stands in meanwhile).
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		loc = time.UTC
	}
	parse := func(s string) (time.Time, error) { return spec.ParseTime(s, loc) }
	parsed(d, at, "from", &h.From, h.Ranges, "Invalid time", parse)
	parsed(d, at, "to", &h.To, h.Ranges, "Invalid time", parse)
	parsed(d, at, "until", &h.Until, h.Ranges, "Invalid time", parse)
	d.str(at, "reason", &h.Reason, h.Ranges)
	return h
}
