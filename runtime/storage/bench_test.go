package storage

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkEnforceLargeIndex is one retention run on a volume holding 30
// days of 1-minute segments of 100 cameras (4.3 million) when nothing is
// due: what every run costs, under and outside the store lock.
func BenchmarkEnforceLargeIndex(b *testing.B) {
	s, err := Open([]Volume{{Path: b.TempDir(), MaxAge: 31 * 24 * time.Hour}}, nil, WithRetentionInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v := s.vols[0]
	const perCamera = 30 * 24 * 60
	start := time.Now().Add(-perCamera * time.Minute)
	for i := range 100 {
		name := fmt.Sprintf("cam%03d", i)
		c := &camIndex{camera: name, days: map[string]int64{}, segs: make([]Segment, perCamera)}
		for j := range c.segs {
			t := start.Add(time.Duration(j) * time.Minute)
			c.segs[j] = Segment{Camera: name, Start: t, End: t.Add(time.Minute), Bytes: 20 << 20}
		}
		v.cams[name] = c
	}
	b.ResetTimer()
	for range b.N {
		if n := s.Enforce(); n != 0 {
			b.Fatalf("%d segments deleted, want none", n)
		}
	}
}
