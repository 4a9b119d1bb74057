package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/balance"
)

// sampleReport is the report of a three-server site where rec-1 records
// far more than the others, outside a 01:00-05:00 window.
func sampleReport() api.BalanceReport {
	site := &spec.Site{Name: "hq", TimeZone: "UTC",
		Balancing: &spec.Balancing{Enabled: true, HistoryDays: 7, MinDaysBetweenMoves: 7, TolerancePercent: 10,
			Window: spec.HourWindow{StartMinute: 60, EndMinute: 300}},
		Servers: []*spec.Server{{Name: "rec-1", Kind: spec.KindRecording}, {Name: "rec-2", Kind: spec.KindRecording},
			{Name: "rec-3", Kind: spec.KindRecording, MaxCameras: 8}, {Name: "spare", Kind: spec.KindStandby}}}
	rates := map[string]float64{"gate": 31.2e9, "lobby": 8.4e9, "dock-1": 22.5e9, "dock-2": 21.9e9, "yard": 12.1e9, "office": 4.3e9}
	primary := map[string]string{"gate": "rec-1", "lobby": "rec-1", "dock-1": "rec-1", "dock-2": "rec-2", "yard": "rec-3", "office": "rec-3"}
	now := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
	var stats []api.DailyStat
	for _, name := range []string{"dock-1", "dock-2", "gate", "lobby", "office", "yard"} {
		site.Cameras = append(site.Cameras, &spec.Camera{Name: name, Server: primary[name], Balance: name != "gate", Redundancy: spec.RedundancyNormal})
		for d := 1; d <= 7; d++ {
			stats = append(stats, api.DailyStat{Server: primary[name], Camera: name, Date: now.AddDate(0, 0, -d).Format(time.DateOnly), Bytes: int64(rates[name])})
		}
	}
	return balance.Plan(balance.Input{Spec: site, Stats: stats, Now: now,
		Alive: map[string]bool{"rec-1": true, "rec-2": true, "rec-3": true, "spare": true}}).Report
}

func TestBalanceReport(t *testing.T) {
	rep := sampleReport()
	var gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.String()
		json.NewEncoder(w).Encode(rep)
	}))
	defer srv.Close()

	var out, errOut bytes.Buffer
	if code := run([]string{"balance", "report", "-address", srv.URL, "-days", "7"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if gotPath != "/v1/balance/report?days=7" {
		t.Errorf("asked %s", gotPath)
	}
	text := out.String()
	t.Logf("\n%s", text)
	for _, want := range []string{
		"Balancing enabled; window 01:00-05:00 (UTC): closed, opens Tue 24 Nov 01:00 UTC",
		"rec-1  recording  3        62.1 GB/day",
		"dock-1  rec-1  rec-3  22.5 GB/day  rec-1 62.1 GB → 39.6 GB/day, rec-3 16.4 GB → 38.9 GB/day (mean 33.5 GB/day)",
		"gate    rec-1   rec-1    31.2 GB/day  no: balance = false",
		"spare  standby",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}

	out.Reset()
	if code := run([]string{"balance", "report", "-address", srv.URL, "-json"}, &out, &errOut); code != 0 {
		t.Fatalf("-json: exit %d: %s", code, errOut.String())
	}
	var back api.BalanceReport
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back.Moves) != len(rep.Moves) {
		t.Fatalf("-json: %v, %d moves", err, len(back.Moves))
	}
	if code := run([]string{"balance", "report", "-address", srv.URL, "extra"}, &out, &errOut); code != 2 {
		t.Errorf("an extra argument gave exit %d", code)
	}
}
