package hcl

import "vigil/hcl/spec"

// The loader starts every object from its defaults and overwrites what the
// files set, so an explicit zero ("keepalive = \"0s\"") is validated rather
// than silently replaced.

func newSite() *Site {
	return &Site{Keepalive: DefaultKeepalive, Failback: true, TimeZone: DefaultTimeZone}
}

func newServer() *Server {
	return &Server{Port: DefaultAPIPort, Kind: KindRecording}
}

func newCamera() *Camera {
	return &Camera{Redundancy: RedundancyNormal, Transport: spec.TransportTCP,
		SegmentDuration: DefaultSegmentDuration, StallTimeout: DefaultStallTimeout, Balance: true}
}

func newBalancing() *Balancing {
	return &Balancing{Enabled: true, HistoryDays: DefaultHistoryDays, MinDaysBetweenMoves: DefaultMinDaysBetween,
		Window: HourWindow{StartMinute: 0, EndMinute: 24 * 60}, TolerancePercent: DefaultTolerance}
}
