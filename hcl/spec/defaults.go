package spec

import "time"

// Defaults of the language, as documented on the model's fields.
const (
	DefaultKeepalive       = time.Second
	DefaultSegmentDuration = 60 * time.Second
	DefaultStallTimeout    = 5 * time.Second
	DefaultTimeZone        = "UTC"
	DefaultHistoryDays     = 7
	DefaultMinDaysBetween  = 7
	DefaultTolerance       = 10
	// DefaultAuditRetention is the audit log's retention when the site
	// sets no audit_retention.
	DefaultAuditRetention = 365 * 24 * time.Hour
)

// ApplyDefaults fills the zero-valued fields of a site that arrived without
// the loader (for example as JSON over the API) with the language's
// defaults. Booleans whose default is true (failback, balance) cannot be
// told apart from an explicit false and are left alone; the loader sets
// them.
func ApplyDefaults(s *Site) {
	if s.Keepalive == 0 {
		s.Keepalive = DefaultKeepalive
	}
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	for _, v := range s.Servers {
		if v.Port == 0 {
			v.Port = DefaultAPIPort
		}
		if v.Kind == "" {
			v.Kind = KindRecording
		}
	}
	for _, c := range s.Cameras {
		if c.Redundancy == "" {
			c.Redundancy = RedundancyNormal
		}
		if c.Transport == "" {
			c.Transport = TransportTCP
		}
		if c.SegmentDuration == 0 {
			c.SegmentDuration = DefaultSegmentDuration
		}
		if c.StallTimeout == 0 {
			c.StallTimeout = DefaultStallTimeout
		}
	}
	if b := s.Balancing; b != nil {
		if b.HistoryDays == 0 {
			b.HistoryDays = DefaultHistoryDays
		}
		if b.MinDaysBetweenMoves == 0 {
			b.MinDaysBetweenMoves = DefaultMinDaysBetween
		}
		if b.TolerancePercent == 0 {
			b.TolerancePercent = DefaultTolerance
		}
		if b.Window == (HourWindow{}) {
			b.Window = HourWindow{StartMinute: 0, EndMinute: 24 * 60}
		}
	}
}
