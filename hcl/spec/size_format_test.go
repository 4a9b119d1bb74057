package spec

import "testing"

// TestFormatSizeExact: a size written with a whole number of its unit
// reads as written, and every output parses back to the same byte count.
func TestFormatSizeExact(t *testing.T) {
	for in, want := range map[string]string{
		"1GB": "1GB", "2TB": "2TB", "64GiB": "64GiB", "500MB": "500MB", "1.5GB": "1500MB",
		"10KiB": "10KiB", "7B": "7B", "1024KB": "1000KiB", "0B": "0B",
	} {
		b, err := ParseSize(in)
		if err != nil {
			t.Fatal(err)
		}
		got := FormatSizeExact(b)
		if got != want {
			t.Errorf("FormatSizeExact(ParseSize(%q)) = %q, want %q", in, got, want)
		}
		if back, err := ParseSize(got); err != nil || back != b {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", got, back, err, b)
		}
	}
}
