package hcl

import "testing"

// BenchmarkLoadLarge loads and validates examples/large: 40 sites and
// 10,000 cameras written with dynamic blocks.
func BenchmarkLoadLarge(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Load([]string{"../examples/large"}, LoadOptions{Env: []string{}}); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
