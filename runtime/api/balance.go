package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"vigil/hcl/spec"
)

// BalanceReport is the answer of GET /v1/balance/report: the site's recorded
// bytes per day per server and camera over a period, and the moves the
// storage balancer would make now (see package runtime/balance).
type BalanceReport struct {
	// Enabled is the site's balancing.enabled; the report is computed either way.
	Enabled bool `json:"enabled"`
	// InWindow says whether Now lies inside the balancing window.
	InWindow bool `json:"in_window"`
	// Now is when the report was computed (the master's clock).
	Now time.Time `json:"now"`
	// NextWindow is when the window opens next (zero while inside it, or
	// when it never opens).
	NextWindow time.Time `json:"next_window,omitzero"`
	// WindowEnds is when the current window closes (zero outside it).
	WindowEnds time.Time `json:"window_ends,omitzero"`
	// TimeZone is the site's time zone, in which the window is read;
	// Window is the window as written, with its weekdays, e.g.
	// "01:00-05:00 on Sat, Sun".
	TimeZone string `json:"time_zone"`
	Window   string `json:"window"`
	// Days is the statistics period; From and To are its first and last
	// date (UTC days, "2006-01-02"); DaysWithData is how many of them have
	// statistics, the divisor of every per-day figure.
	Days         int    `json:"days"`
	From         string `json:"from"`
	To           string `json:"to"`
	DaysWithData int    `json:"days_with_data"`
	// TolerancePercent: servers within this percentage of the mean load are
	// balanced. MeanBytesPerDay is the mean load of the balanced servers.
	TolerancePercent float64         `json:"tolerance_percent"`
	MeanBytesPerDay  float64         `json:"mean_bytes_per_day"`
	Servers          []BalanceServer `json:"servers"`
	Cameras          []BalanceCamera `json:"cameras"`
	// Moves are the moves the balancer would make now, in order.
	Moves []BalanceMove `json:"moves"`
	// Message explains in one line what the balancer does now.
	Message string `json:"message"`
}

// BalanceServer is one server's load in a BalanceReport.
type BalanceServer struct {
	Name string          `json:"name"`
	Kind spec.ServerKind `json:"kind"`
	// Balanced says whether the server takes part (a live recording server).
	Balanced bool `json:"balanced"`
	// Why explains a server that does not take part.
	Why        string `json:"why,omitempty"`
	MaxCameras int    `json:"max_cameras"`
	// Cameras and BytesPerDay are the cameras whose main server it is now
	// and their recorded bytes per day; CamerasAfter and BytesPerDayAfter
	// are the same after the moves.
	Cameras          int     `json:"cameras"`
	BytesPerDay      float64 `json:"bytes_per_day"`
	CamerasAfter     int     `json:"cameras_after"`
	BytesPerDayAfter float64 `json:"bytes_per_day_after"`
}

// BalanceCamera is one camera in a BalanceReport.
type BalanceCamera struct {
	Name string `json:"name"`
	// Primary is the spec's server; Server is its main server now (the
	// server of a balancing move in force, or the primary).
	Primary     string  `json:"primary"`
	Server      string  `json:"server"`
	BytesPerDay float64 `json:"bytes_per_day"`
	// Movable says whether the balancer may move it; Why says why not.
	Movable bool   `json:"movable"`
	Why     string `json:"why,omitempty"`
	// LastMove is the time of its last balancing move still remembered.
	LastMove time.Time `json:"last_move,omitzero"`
}

// BalanceMove is one move of a camera from one server to another.
type BalanceMove struct {
	Camera      string  `json:"camera"`
	From        string  `json:"from"`
	To          string  `json:"to"`
	BytesPerDay float64 `json:"bytes_per_day"`
	Reason      string  `json:"reason"`
}

// BalanceReport asks the agent for the balancing report over the last days
// (0: the site's history_days).
func (c *Client) BalanceReport(ctx context.Context, days int) (*BalanceReport, error) {
	path := "/v1/balance/report"
	if days > 0 {
		path += "?days=" + strconv.Itoa(days)
	}
	var out BalanceReport
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
