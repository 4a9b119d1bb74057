package console

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The vendored hls.js is package/dist/hls.light.min.mjs and package/LICENSE
// of the npm package hls.js 1.7.4 (npm pack hls.js@1.7.4), unchanged: the
// light build plays the fMP4 HLS of recordings without the subtitle, audio
// track and DRM code the console does not use.
func TestVendoredHLSJS(t *testing.T) {
	want := map[string]string{
		"static/vendor/hls.js/hls.light.min.mjs": "3d82a88cf9ae0d9aaab3cbe9ff6ecbb64bb89c54a399c34ae9bf8b559baeb20f",
		"static/vendor/hls.js/LICENSE":           "ca8773cf798c7ed997d4dd7c8e23c348699f8d5b7462636694cc14de6cda12db",
	}
	for name, sum := range want {
		b, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: SHA-256 %x, want %s (vendor hls.js 1.7.4 again from the npm registry, or record the new version's checksum)", name, got, sum)
		}
	}
}
