package api

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/hcl/spec"
)

// EventFilter selects events of GET /v1/events: the query parameters since,
// until, kind, server, camera and limit.
type EventFilter struct {
	Since, Until time.Time // zero: unbounded
	// Kind is a glob pattern (path.Match) such as "camera.*"; several
	// patterns may be given separated by commas.
	Kind   string
	Server string
	Camera string
	// Limit keeps the newest Limit events (0: the server's default).
	Limit int
}

// Match tells whether ev passes the filter (Limit aside).
func (f EventFilter) Match(ev Event) bool {
	if !f.Since.IsZero() && ev.Time.Before(f.Since) || !f.Until.IsZero() && ev.Time.After(f.Until) {
		return false
	}
	if f.Server != "" && ev.Server != f.Server || f.Camera != "" && ev.Camera != f.Camera {
		return false
	}
	return f.Kind == "" || MatchKind(f.Kind, ev.Kind)
}

// MatchKind tells whether kind matches one of the comma-separated glob
// patterns; "camera" alone also matches "camera.unreachable".
func MatchKind(patterns, kind string) bool {
	for _, p := range strings.Split(patterns, ",") {
		p = strings.TrimSpace(p)
		if ok, _ := path.Match(p, kind); ok || strings.HasPrefix(kind, p+".") {
			return true
		}
	}
	return false
}

// ValidKindPattern tells whether patterns are well-formed globs.
func ValidKindPattern(patterns string) bool {
	for _, p := range strings.Split(patterns, ",") {
		if _, err := path.Match(strings.TrimSpace(p), ""); err != nil {
			return false
		}
	}
	return true
}

// Query encodes the filter as URL query parameters.
func (f EventFilter) Query() url.Values {
	q := url.Values{}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range map[string]string{"kind": f.Kind, "server": f.Server, "camera": f.Camera} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// SortEvents sorts events by time, keeping the order of equal times.
func SortEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int { return a.Time.Compare(b.Time) })
}

// UnansweredHeader of a GET /v1/events answer names the servers of the
// site that did not answer in time (comma-separated): their events are
// missing from the answer.
const UnansweredHeader = "X-Vigil-Unanswered"

// ParseTime reads a time for an event query: RFC 3339, or a duration
// before now ("2h", "10d"); "" is the zero time (unbounded).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := spec.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (2h, 10d) nor a time (RFC 3339)", s)
	}
	return now.Add(-d), nil
}
