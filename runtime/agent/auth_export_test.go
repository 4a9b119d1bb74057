package agent

import "vigil/runtime/access"

// RoutePermission is a route's permission, for the table test.
type RoutePermission struct {
	Pattern, Endpoint string
	Public            bool
	Need              access.Role
	// Cameras is "none", "one", "lists" or "all" (cameraScope).
	Cameras string
}

// Routes gives tests the route table's permissions.
func (a *Agent) Routes() []RoutePermission {
	var out []RoutePermission
	for _, rt := range a.routeTable() {
		out = append(out, RoutePermission{Pattern: rt.pattern, Endpoint: rt.endpoint, Public: rt.public, Need: rt.need,
			Cameras: [...]string{"none", "one", "lists", "all"}[rt.cameras]})
	}
	return out
}

// PeerToken gives tests the credential of the site's servers.
func (a *Agent) PeerToken() string { return a.peerToken }
