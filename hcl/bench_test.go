package hcl

import (
	"testing"

	"vigil/runtime/assign"
)

// BenchmarkLoadLarge loads and validates examples/large: 40 sites and
// 10,000 cameras written with dynamic blocks, with the N+1 check of each
// site as vigil validate runs it.
func BenchmarkLoadLarge(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Load([]string{"../examples/large"}, LoadOptions{Env: []string{}, Capacity: assign.Uncovered}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkLoadPlanLarge loads the planner's benchmark site: one site of
// 2,500 cameras, so no parallelism across sites, and expressions (lists,
// objects, index and function calls) in every camera.
func BenchmarkLoadPlanLarge(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Load([]string{"../testdata/plan/bench/large.hcl"}, LoadOptions{Env: []string{}, Capacity: assign.Uncovered}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
