package balance

import (
	"fmt"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// BenchmarkPlan2500 plans a 10-server, 2,500-camera site with 7 days of
// statistics where every camera starts on the first 5 servers, so that the
// balancer has hundreds of moves to choose.
func BenchmarkPlan2500(b *testing.B) {
	const servers, cams = 10, 2500
	site := &spec.Site{Name: "big", TimeZone: "UTC",
		Balancing: &spec.Balancing{Enabled: true, HistoryDays: 7, MinDaysBetweenMoves: 7, TolerancePercent: 10,
			Window: spec.HourWindow{StartMinute: 0, EndMinute: 24 * 60}}}
	alive := map[string]bool{}
	for i := range servers {
		name := fmt.Sprintf("rec-%d", i+1)
		site.Servers = append(site.Servers, &spec.Server{Name: name, Kind: spec.KindRecording})
		alive[name] = true
	}
	var stats []api.DailyStat
	for i := range cams {
		c := &spec.Camera{Name: fmt.Sprintf("cam-%04d", i), Server: fmt.Sprintf("rec-%d", i%(servers/2)+1), Balance: true, Redundancy: spec.RedundancyNormal}
		site.Cameras = append(site.Cameras, c)
		for d := 1; d <= 7; d++ {
			stats = append(stats, api.DailyStat{Server: c.Server, Camera: c.Name, Date: day0.AddDate(0, 0, -d).Format(time.DateOnly), Bytes: int64(1+i%7) * 1e9})
		}
	}
	in := Input{Spec: site, Stats: stats, Alive: alive, Now: day0}
	var moves int
	for b.Loop() {
		moves = len(Plan(in).Report.Moves)
	}
	b.ReportMetric(float64(moves), "moves")
}
