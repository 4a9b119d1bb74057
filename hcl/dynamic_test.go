package hcl

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// dynamicCases exercise dynamic blocks: nesting, iterators, marks, unknown
// for_each values and every error of the dynamic block itself.
var dynamicCases = map[string]string{
	"nested": `
locals {
  sites = { a = "10.1", b = "10.2" }
}
dynamic "site" {
  for_each = local.sites
  labels   = [site.key]
  content {
    dynamic "server" {
      for_each = range(2)
      labels   = ["rec-${server.value}"]
      content {
        address = "${site.value}.0.${server.key + 10}"
        storage "main" { path = "/srv/${site.key}" }
      }
    }
    dynamic "camera" {
      for_each = [for i in range(3) : { name = "cam-${i}", labels = { n = tostring(i) } }]
      iterator = cam
      labels   = [cam.value.name]
      content {
        url    = "rtsp://${site.value}.1.${cam.key + 1}/s"
        server = "rec-${cam.key % 2}"
        backup = ["rec-${(cam.key + 1) % 2}"]
        labels = cam.value.labels
      }
    }
  }
}`,
	"shadowed iterator": `
dynamic "site" {
  for_each = ["s"]
  iterator = it
  labels   = [it.value]
  content {
    server "a" { address = "10.0.0.1" }
    dynamic "camera" {
      for_each = ["c"]
      iterator = it
      labels   = [it.value]
      content {
        url    = "rtsp://10.0.0.2/${it.value}"
        server = "a"
      }
    }
  }
}`,
	"unknown for_each": `
variable "names" { type = list(string) }
site "s" {
  server "a" { address = "10.0.0.1" }
  dynamic "camera" {
    for_each = var.names
    labels   = ["fixed"]
    content {
      url    = "rtsp://10.0.0.2/"
      server = "a"
    }
  }
}`,
	"unknown label": `
variable "names" { type = list(string) }
site "s" {
  dynamic "camera" {
    for_each = var.names
    labels   = [camera.value]
    content { url = "rtsp://10.0.0.2/" }
  }
}`,
	"sensitive for_each": `
variable "hosts" {
  type      = list(string)
  sensitive = true
  default   = ["10.0.0.9"]
}
site "s" {
  server "a" { address = "10.0.0.1" }
  dynamic "camera" {
    for_each = var.hosts
    labels   = ["c"]
    content {
      url    = "rtsp://${camera.value}/"
      server = "a"
    }
  }
}`,
	"errors": `
site "s" {
  server "a" { address = "10.0.0.1" }
  dynamic "camera" {
    for_each = "text"
    labels   = ["c"]
    content {}
  }
  dynamic "camera" {
    for_each = null
    labels   = ["c"]
    content {}
  }
  dynamic "camera" {
    for_each = [1]
    labels   = ["c", "d"]
    content {}
  }
  dynamic "camera" {
    for_each = [1]
    labels   = []
    content {}
  }
  dynamic "camera" {
    for_each = [1]
    labels   = [null]
    content {}
  }
  dynamic "camera" {
    for_each = [1]
    labels   = [["list"]]
    content {}
  }
  dynamic "camera" {
    for_each = [1]
    labels   = ["c"]
  }
  dynamic "camera" {
    for_each = [1]
    labels   = ["c"]
    content {}
    content {}
  }
  dynamic "camera" {
    for_each = [1]
    iterator = a.b
    labels   = ["c"]
    content {}
  }
  dynamic "camera" {
    labels  = ["c"]
    content {}
  }
  dynamic "gadget" {
    for_each = [1]
    content {}
  }
  dynamic "camera" {
    for_each = [1, 2]
    labels   = ["c${camera.value}"]
    content {
      url     = camera.nothing
      server  = "a"
      unknown = 1
    }
  }
  dynamic "balancing" {
    for_each = [1]
    content { window = "25:00-26:00" }
  }
}`,
}

// TestExpandDynamicMatchesDynblock loads the cases above, the golden cases
// and the examples with expandDynamic and with hcl's ext/dynblock, which it
// replaces, and wants the same model and the same diagnostics.
func TestExpandDynamicMatchesDynblock(t *testing.T) {
	dirs := map[string]string{}
	for name, text := range dynamicCases {
		dirs[name] = writeFiles(t, map[string]string{"main.hcl": text})
	}
	for _, pattern := range []string{"../testdata/hcl/*/*", "../examples/*"} {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			dirs[m] = m
		}
	}
	withDynblock := func(body hhcl.Body, ctx *hhcl.EvalContext, check forEachCheck) hhcl.Body {
		return dynblock.Expand(body, ctx, dynblock.OptCheckForEach(check))
	}
	load := func(dir string) string {
		cfg, diags := Load([]string{dir}, LoadOptions{Env: []string{"VIGIL_VAR_camera_password=" + enterprisePassword}})
		model, err := json.MarshalIndent(cfg, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		text, err := json.MarshalIndent(DiagnosticsJSON(diags), "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return render(t, cfg, diags) + string(text) + string(model)
	}
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			got := load(dir)
			expand = withDynblock
			want := load(dir)
			expand = expandDynamic
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("expandDynamic and dynblock differ (-dynblock +expandDynamic):\n%s", diff)
			}
		})
	}
}

// TestExpandDynamicPartialContent reads a body in two steps, as a decoder
// of several schemas would, and wants what dynblock gives: the first step's
// attributes and blocks, and the rest without them.
func TestExpandDynamicPartialContent(t *testing.T) {
	f, diags := hclsyntax.ParseConfig([]byte(`
a = 1
b = "two"
dynamic "x" {
  for_each = ["p", "q"]
  labels   = [x.value]
  content { v = x.key }
}
y "static" { w = 3 }
dynamic "y" {
  for_each = [1]
  labels   = ["generated"]
  content { w = y.value }
}
dynamic "z" {
  for_each = [1]
  content {}
}
`), "partial.hcl", hhcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	first := &hhcl.BodySchema{Attributes: []hhcl.AttributeSchema{{Name: "a"}}, Blocks: []hhcl.BlockHeaderSchema{{Type: "x", LabelNames: []string{"n"}}}}
	rest := &hhcl.BodySchema{Attributes: []hhcl.AttributeSchema{{Name: "b"}}, Blocks: []hhcl.BlockHeaderSchema{{Type: "y", LabelNames: []string{"n"}}}}
	ctx := &hhcl.EvalContext{}
	summary := func(body hhcl.Body) string {
		c1, remain, d1 := body.PartialContent(first)
		c2, d2 := remain.Content(rest)
		var out []string
		for _, c := range []*hhcl.BodyContent{c1, c2} {
			var attrs []string
			for name, a := range c.Attributes {
				v, d := a.Expr.Value(ctx)
				attrs = append(attrs, name+"="+v.GoString()+d.Error())
			}
			sort.Strings(attrs)
			out = append(out, attrs...)
			for _, b := range c.Blocks {
				inner, d := b.Body.Content(&hhcl.BodySchema{Attributes: []hhcl.AttributeSchema{{Name: "v"}, {Name: "w"}}})
				var vals []string
				for name, a := range inner.Attributes {
					v, vd := a.Expr.Value(ctx)
					vals = append(vals, name+"="+v.GoString()+vd.Error())
				}
				sort.Strings(vals)
				out = append(out, fmt.Sprintf("%s %v %v %s", b.Type, b.Labels, vals, d.Error()))
			}
		}
		return strings.Join(append(out, d1.Error(), d2.Error()), "\n")
	}
	got := summary(expandDynamic(f.Body, ctx, nil))
	want := summary(dynblock.Expand(f.Body, ctx))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expandDynamic and dynblock differ (-dynblock +expandDynamic):\n%s", diff)
	}
	if !strings.Contains(got, `x [p]`) || !strings.Contains(got, `y [generated]`) || !strings.Contains(got, `Unsupported block type`) {
		t.Errorf("unexpected content:\n%s", got)
	}
}
