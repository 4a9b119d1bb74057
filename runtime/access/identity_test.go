package access

import (
	"context"
	"slices"
	"testing"

	"vigil/hcl/spec"
)

func TestRolesAreOrdered(t *testing.T) {
	for i, have := range Roles {
		for j, need := range Roles {
			if got, want := have.Allows(need), i >= j; got != want {
				t.Errorf("%s allows %s = %v, want %v", have, need, got, want)
			}
		}
	}
	if Role("root").Allows(Viewer) || Role("root").Valid() {
		t.Error("an unknown role must allow nothing")
	}
}

func TestCanSee(t *testing.T) {
	id := Identity{Cameras: []string{"lobby-*", "dock-1"}}
	for cam, want := range map[string]bool{"lobby-1": true, "dock-1": true, "dock-2": false, "yard": false} {
		if got := id.CanSee(cam); got != want {
			t.Errorf("CanSee(%q) = %v, want %v", cam, got, want)
		}
	}
	if !(Identity{}).CanSee("anything") {
		t.Error("no patterns must mean every camera")
	}
}

func TestContext(t *testing.T) {
	if _, ok := From(context.Background()); ok {
		t.Fatal("empty context has an identity")
	}
	id := Identity{Name: "alice", Kind: "user", Role: Operator}
	got, ok := From(WithIdentity(context.Background(), id))
	if !ok || got.Name != "alice" || got.Role != Operator {
		t.Fatalf("From = %+v, %v", got, ok)
	}
}

// TestRolesMatchTheSpec: the model, which cannot import this package,
// lists the same roles in the same order.
func TestRolesMatchTheSpec(t *testing.T) {
	var got []string
	for _, r := range Roles {
		got = append(got, string(r))
	}
	if !slices.Equal(got, spec.Roles) {
		t.Errorf("access.Roles %v, spec.Roles %v", got, spec.Roles)
	}
}
