package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

func TestRenderRecordings(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	r := &api.Recordings{
		Camera: "dock-1", TimeZone: "Europe/Paris", Start: at("2026-12-01T20:00:00Z"), End: at("2026-12-01T21:00:00Z"),
		MissingServers: []string{"rec-3"},
		Spans: []api.Span{
			{Start: at("2026-12-01T20:00:00Z"), End: at("2026-12-01T20:30:00Z"), Servers: []string{"rec-1"}, Bytes: 675_000_000},
			{Start: at("2026-12-01T20:30:02Z"), End: at("2026-12-01T20:45:00Z"), Servers: []string{"rec-2"}, Bytes: 336_000_000},
		},
		Gaps: []api.TimelineGap{{Start: at("2026-12-01T20:30:00Z"), End: at("2026-12-01T20:30:02Z"), Cause: "server failure"}},
	}
	var b bytes.Buffer
	renderRecordings(&b, r, at("2026-12-01T20:45:00Z"))
	want := `Camera dock-1, 2026-12-01 21:00:00 to 2026-12-01 22:00:00 (Europe/Paris, UTC+01:00)
Incomplete: no answer from rec-3, which may hold footage of this camera
Recorded 44m58s of 45m0s in 2 span(s), 1 gap(s), 1.0 GB

21:00:00 ██████████████████████████████▄██████████████                22:00:00
         █ recorded  ▄ partly  · gap

  START     END       LENGTH  WHAT                 SIZE
  21:00:00  21:30:00  30m0s   recorded on rec-1    675.0 MB
  21:30:00  21:30:02  2s      gap: server failure  
  21:30:02  21:45:00  14m58s  recorded on rec-2    336.0 MB
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The footage commands take -since in the durations of the configuration and
// of vigil events -since (7d, 2w), not only Go's (90m, 24h).
func TestPeriodSinceTakesDays(t *testing.T) {
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	for since, want := range map[string]time.Duration{"90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour} {
		p := periodFlags{since: since}
		start, end, err := p.resolve(now)
		if err != nil || !end.Equal(now) || end.Sub(start) != want {
			t.Errorf("-since %s: %s to %s, %v; want %s before now", since, start, end, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-5m", "0s", ""} {
		p := periodFlags{since: bad}
		if _, _, err := p.resolve(now); err == nil || !strings.Contains(err.Error(), "-since") {
			t.Errorf("-since %q: err %v, want one naming -since", bad, err)
		}
	}
}
