package hcl

import "vigil/hcl/spec"

// The loader starts every object from its defaults and overwrites what the
// files set, so an explicit zero ("keepalive = \"0s\"") is validated rather
// than silently replaced.

func newSite() *spec.Site {
	return &spec.Site{Keepalive: spec.DefaultKeepalive, Failback: true, TimeZone: spec.DefaultTimeZone}
}

func newServer() *spec.Server {
	return &spec.Server{Port: spec.DefaultAPIPort, Kind: spec.KindRecording}
}

func newCamera() *spec.Camera {
	return &spec.Camera{Redundancy: spec.RedundancyNormal, Transport: spec.TransportTCP,
		SegmentDuration: spec.DefaultSegmentDuration, StallTimeout: spec.DefaultStallTimeout, Balance: true}
}

func newBalancing() *spec.Balancing {
	return &spec.Balancing{Enabled: true, HistoryDays: spec.DefaultHistoryDays, MinDaysBetweenMoves: spec.DefaultMinDaysBetween,
		Window: spec.HourWindow{StartMinute: 0, EndMinute: 24 * 60}, TolerancePercent: spec.DefaultTolerance}
}
