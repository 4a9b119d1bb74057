package storage

import (
	"fmt"
	"testing"
	"time"
	"vigil/hcl/spec"
)

// BenchmarkEnforceLargeIndex is one retention run on a volume holding 30
// days of 1-minute segments of 100 cameras (4.3 million) when nothing is
// due: what every run costs, under and outside the store lock. /held: the
// same with holds keeping the oldest 10 days of every camera and an hour
// of some, which every run skips.
func BenchmarkEnforceLargeIndex(b *testing.B) {
	const perCamera = 30 * 24 * 60
	start := time.Now().Add(-perCamera * time.Minute)
	for _, holds := range map[string][]*spec.Hold{
		"none": nil,
		"held": {
			{Name: "old", Cameras: []string{"cam*"}, From: start, To: start.Add(10 * 24 * time.Hour)},
			{Name: "case", Cameras: []string{"cam01?"}, From: start.Add(15 * 24 * time.Hour), To: start.Add(15*24*time.Hour + time.Hour)},
		},
	} {
		b.Run(map[bool]string{true: "held", false: "none"}[holds != nil], func(b *testing.B) {
			s, err := Open([]Volume{{Path: b.TempDir(), MaxAge: 31 * 24 * time.Hour}}, nil, WithRetentionInterval(0), WithHolds(holds))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			v := s.vols[0]
			for i := range 100 {
				name := fmt.Sprintf("cam%03d", i)
				c := &camIndex{camera: name, days: map[string]int64{}, segs: make([]Segment, perCamera)}
				for j := range c.segs {
					t := start.Add(time.Duration(j) * time.Minute)
					c.segs[j] = Segment{Camera: name, Start: t, End: t.Add(time.Minute), Bytes: 20 << 20}
				}
				v.cams[name] = c
			}
			// The first run after the holds change sums the held
			// segments once; later runs are what every run costs.
			s.Enforce()
			b.ResetTimer()
			for range b.N {
				if n := s.Enforce(); n != 0 {
					b.Fatalf("%d segments deleted, want none", n)
				}
			}
		})
	}
}

// BenchmarkBetween is the index lookup of one camera over a day out of 30
// days of 1-minute segments, and over the whole 30 days: copying the
// segments (Between, for playback) and walking them (Walk, for listings).
func BenchmarkBetween(b *testing.B) {
	s, err := Open([]Volume{{Path: b.TempDir()}}, nil, WithRetentionInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 30 * 24 * 60
	end := time.Now()
	c := &camIndex{camera: "cam1", days: map[string]int64{}, segs: make([]Segment, n)}
	for j := range c.segs {
		t := end.Add(time.Duration(j-n) * time.Minute)
		c.segs[j] = Segment{Camera: "cam1", Start: t, End: t.Add(time.Minute), Bytes: 20 << 20}
	}
	s.vols[0].cams["cam1"] = c
	for _, d := range []time.Duration{24 * time.Hour, 30 * 24 * time.Hour} {
		b.Run(d.String(), func(b *testing.B) {
			for range b.N {
				if got := s.Between("cam1", end.Add(-d), end); len(got) < int(d/time.Minute)-1 {
					b.Fatalf("%d segments", len(got))
				}
			}
		})
		b.Run("walk/"+d.String(), func(b *testing.B) {
			for range b.N {
				var bytes int64
				s.Walk("cam1", end.Add(-d), end, func(seg *Segment) { bytes += seg.Bytes })
				if bytes == 0 {
					b.Fatal("nothing walked")
				}
			}
		})
	}
}
