// Package access decides who is calling the API and what they may do: the
// identity a request carries (a user's session, a named token, the agent
// configuration's token), its role and the cameras it may see.
//
// The HTTP layer authenticates a request once and stores the Identity in the
// request's context; handlers, the audit log and listings read it back with
// From. Roles are ordered: a role may do everything the roles below it may.
package access

import (
	"context"
	"path"
)

// Role is what an identity may do.
type Role string

// Roles, from least to most allowed.
const (
	// Viewer: status, live view and playback of its cameras.
	Viewer Role = "viewer"
	// Operator: also export and events.
	Operator Role = "operator"
	// Admin: also apply, master transfer and the audit log.
	Admin Role = "admin"
)

// Roles lists every role, least allowed first.
var Roles = []Role{Viewer, Operator, Admin}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r may do what need may do. An unknown role allows
// nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// Identity is who made a request.
type Identity struct {
	// Name is the user's or token's name as declared in HCL; "agent-token"
	// for the agent configuration's token (VIGIL_TOKEN).
	Name string `json:"name"`
	// Kind is "user", "token" or "peer" (another server of the site).
	Kind string `json:"kind"`
	Role Role   `json:"role"`
	// Cameras are name patterns (path.Match syntax) of the cameras this
	// identity may see; empty means every camera.
	Cameras []string `json:"cameras,omitempty"`
	// Address is the remote address the request came from.
	Address string `json:"address,omitempty"`
}

// CanSee reports whether id may see camera.
func (id Identity) CanSee(camera string) bool {
	if len(id.Cameras) == 0 {
		return true
	}
	for _, p := range id.Cameras {
		if ok, _ := path.Match(p, camera); ok {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the identity stored in ctx by WithIdentity.
func From(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
