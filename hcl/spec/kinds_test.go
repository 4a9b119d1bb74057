package spec

import "testing"

// TestServerKindRules: the one place that says which kinds record and
// vote, also for the empty kind of a spec without defaults.
func TestServerKindRules(t *testing.T) {
	for _, tc := range []struct {
		kind                  ServerKind
		valid, record, votes  bool
		votesInAllVirtualSite bool
	}{
		{"", false, true, true, true},
		{KindRecording, true, true, true, true},
		{KindStandby, true, true, true, true},
		{KindWitness, true, false, true, true},
		{KindVirtual, true, false, false, true},
		{"archive", false, false, true, true},
	} {
		if got := tc.kind.Valid(); got != tc.valid {
			t.Errorf("%q.Valid() = %v", tc.kind, got)
		}
		if got := tc.kind.CanRecord(); got != tc.record {
			t.Errorf("%q.CanRecord() = %v", tc.kind, got)
		}
		if got := tc.kind.Votes(false); got != tc.votes {
			t.Errorf("%q.Votes(false) = %v", tc.kind, got)
		}
		if got := tc.kind.Votes(true); got != tc.votesInAllVirtualSite {
			t.Errorf("%q.Votes(true) = %v", tc.kind, got)
		}
	}
	if KindStandby.OrDefault() != KindStandby || ServerKind("").OrDefault() != KindRecording {
		t.Error("OrDefault")
	}
	site := &Site{Servers: []*Server{{Name: "a", Kind: KindVirtual}, {Name: "b", Kind: KindVirtual}}}
	if !site.AllVirtual() {
		t.Error("a site of virtual servers is all virtual")
	}
	site.Servers = append(site.Servers, &Server{Name: "c"})
	if site.AllVirtual() {
		t.Error("a server without a kind records: the site is not all virtual")
	}
}
