package footage

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"vigil/runtime/api"
)

// segments is a camera's 1-minute segments on one server over d, ending at
// end, with a 2 s hole every 6 hours (a takeover).
func segments(server string, end time.Time, d time.Duration) []api.Piece {
	var out []api.Piece
	for t := end.Add(-d); t.Before(end); t = t.Add(time.Minute) {
		if t.Sub(end.Add(-d))%(6*time.Hour) == 0 {
			t = t.Add(2 * time.Second)
		}
		out = append(out, api.Piece{Server: server, Start: t, End: t.Add(time.Minute), Bytes: 22_500_000,
			Path: "cam1/" + t.Format("2006-01-02/15-04-05.000000") + ".mp4"})
	}
	return out
}

// listing is what one GET /v1/recordings costs past the stores' index
// lookups (storage's BenchmarkBetween): each of three servers clips and
// coalesces its segments and encodes them, the answering agent decodes the
// three answers and merges.
func listing(b *testing.B, d time.Duration) {
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var per [][]api.Piece
	for _, srv := range []string{"rec-1", "rec-2", "rec-3"} {
		per = append(per, segments(srv, end, d))
	}
	b.ResetTimer()
	for range b.N {
		var all []api.Piece
		for _, segs := range per {
			body, err := json.Marshal([]api.LocalRecordings{{Server: segs[0].Server, Camera: "cam1", Pieces: Coalesce(Clip(segs, end.Add(-d), end))}})
			if err != nil {
				b.Fatal(err)
			}
			var got []api.LocalRecordings
			if err := json.Unmarshal(body, &got); err != nil {
				b.Fatal(err)
			}
			all = append(all, got[0].Pieces...)
		}
		tl := Merge(Input{Start: end.Add(-d), End: end, Now: end, Pieces: all})
		if _, err := json.Marshal(tl); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListing24h(b *testing.B) { listing(b, 24*time.Hour) }
func BenchmarkListing30d(b *testing.B) { listing(b, 30*24*time.Hour) }

// BenchmarkDays2500 is the day overview of 2,500 cameras over 30 days on
// three servers: each camera's runs (one per takeover) from every server,
// decoded, split into the days of the site's zone and encoded.
func BenchmarkDays2500(b *testing.B) {
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		b.Skip("no time zone database:", err)
	}
	var bodies [][]byte
	for _, srv := range []string{"rec-1", "rec-2", "rec-3"} {
		var local []api.LocalRecordings
		runs := Coalesce(segments(srv, end, 30*24*time.Hour))
		for i := range 2500 {
			local = append(local, api.LocalRecordings{Server: srv, Camera: fmt.Sprintf("cam%d", i), Pieces: runs})
		}
		body, err := json.Marshal(local)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	b.ResetTimer()
	for range b.N {
		byCamera := map[string][]api.Piece{}
		for _, body := range bodies {
			var local []api.LocalRecordings
			if err := json.Unmarshal(body, &local); err != nil {
				b.Fatal(err)
			}
			for _, l := range local {
				byCamera[l.Camera] = append(byCamera[l.Camera], l.Pieces...)
			}
		}
		var out []api.CameraDays
		for name, pieces := range byCamera {
			out = append(out, api.CameraDays{Camera: name, Days: Days(pieces, loc)})
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}
