package console

import (
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/dev/camsim"
)

// The codec strings of camsim's clips for MediaSource.isTypeSupported:
// ffprobe finds H.264 Main at level 1.3 and High at 4.0, H.265 Main at
// levels 60 and 120 (2.0 and 4.0); the H.265 ones are progressive and
// frame-only (constraint byte 0x90).
func TestCodecString(t *testing.T) {
	for _, c := range []struct{ codec, profile, want string }{
		{"h264", "small", "avc1.4d400d"},
		{"h264", "1080p", "avc1.640028"},
		{"h265", "small", "hvc1.1.6.L60.90"},
		{"h265", "1080p", "hvc1.1.6.L120.90"},
	} {
		clip, err := camsim.LoadClip(c.codec, c.profile)
		if err != nil {
			t.Fatal(err)
		}
		var codec codecs.Codec = &codecs.H264{SPS: clip.SPS, PPS: clip.PPS}
		if c.codec == "h265" {
			codec = &codecs.H265{VPS: clip.VPS, SPS: clip.SPS, PPS: clip.PPS}
		}
		if got := codecString(codec); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.codec, c.profile, got, c.want)
		}
	}
}
