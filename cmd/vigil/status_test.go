package main

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/api"
)

// TestStatusAndMasterTransfer runs vigil status and vigil master transfer
// against a one-server site.
func TestStatusAndMasterTransfer(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Cameras: 1, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	trustSites(t, s)
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Server("rec-1").Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var out, errb strings.Builder
	// Every read needs a credential, on a site without users too.
	t.Setenv(api.EnvToken, "")
	if code := run([]string{"status", "-address", addr}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "set VIGIL_TOKEN") {
		t.Errorf("status without a token: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	t.Setenv(api.EnvToken, s.Token)
	if code := run([]string{"status", "-address", addr}, &out, &errb); code != 0 {
		t.Fatalf("status exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "waiting for vigil apply") {
		t.Errorf("fresh site status:\n%s", out.String())
	}

	if _, err := s.Commit(ctx, s.Spec(s.CameraSpec(1, "rec-1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return devsite.RecordedBy(st, map[string][]string{"cam1": {"rec-1"}}) }); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"status", "-address", addr, "-json"}, &out, &errb); code != 0 {
		t.Fatalf("status -json exit %d: %s", code, errb.String())
	}
	var st api.State
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil || st.Revision != 1 || len(st.Cameras) != 1 {
		t.Errorf("status -json: %v: %s", err, out.String())
	}
	out.Reset()
	run([]string{"status", "-address", addr}, &out, &errb)
	for _, want := range []string{"Site test · revision 1 · master rec-1", "cam1    recording  rec-1 (primary)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}

	// A bare word names a camera, a server or the site.
	out.Reset()
	if code := run([]string{"status", "-address", addr, "cam1"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "cam1    recording  rec-1 (primary)") {
		t.Errorf("status cam1: exit %d:\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"status", "-address", addr, "cam2"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `"cam2" is not a server, camera or site of site test`) ||
		!strings.Contains(errb.String(), `Did you mean "cam1"?`) {
		t.Errorf("status cam2: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"status", "-address", addr, "-json", "rec-1"}, &out, &errb); code != 0 {
		t.Errorf("status -json rec-1: exit %d", code)
	} else if err := json.Unmarshal([]byte(out.String()), &st); err != nil || len(st.Servers) != 1 || len(st.Cameras) != 1 {
		t.Errorf("status -json rec-1: %v: %s", err, out.String())
	}

	t.Setenv(api.EnvToken, "")
	errb.Reset()
	if code := run([]string{"master", "transfer", "-address", addr, "rec-1"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "VIGIL_TOKEN is not set") {
		t.Errorf("transfer without token: exit %d, %s", code, errb.String())
	}
	t.Setenv(api.EnvToken, s.Token)
	out.Reset()
	if code := run([]string{"master", "transfer", "-address", addr, "rec-1"}, &out, &errb); code != 0 || out.String() != "rec-1 is the master.\n" {
		t.Errorf("transfer: exit %d, %q, %s", code, out.String(), errb.String())
	}

	errb.Reset()
	if code := run([]string{"status", "-address", "127.0.0.1:1"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "is it running?") {
		t.Errorf("status of nothing: exit %d, %s", code, errb.String())
	}
}

// TestJSONErrors: with -json, a command that fails prints the one error
// document on stdout, exit 1, and nothing on stderr.
func TestJSONErrors(t *testing.T) {
	down := "http://127.0.0.1:1"
	for _, args := range [][]string{
		{"status", "-json", "-address", down},
		{"status", "-json", "-address", down, "cam5"},
		{"status", "-json", "-config", "testdata/no-such-dir"},
		{"events", "-json", "-address", down},
		{"balance", "report", "-json", "-address", down},
		{"plan", "-json", "-address", down, "../../examples/quickstart"},
		{"apply", "-json", "-auto-approve", "-address", down, "../../examples/quickstart"},
		{"master", "transfer", "-json", "-address", down, "srv-1"},
		{"recordings", "-json", "-address", down, "cam1"},
	} {
		code, out, errs := runArgs(args...)
		if args[0] == "apply" {
			errs = "" // apply -json shows its progress and the error's text on stderr too
		}
		var doc struct {
			FormatVersion *string           `json:"format_version"`
			Error         string            `json:"error"`
			Diagnostics   []json.RawMessage `json:"diagnostics"`
		}
		if err := json.Unmarshal([]byte(out), &doc); code != 1 || err != nil || doc.Error == "" || doc.FormatVersion == nil || doc.Diagnostics == nil || errs != "" {
			t.Errorf("vigil %s: exit %d, stderr %q, stdout (%v):\n%s", strings.Join(args, " "), code, errs, err, out)
		}
	}
}

// TestStatusArgs: a bare word is a name of the site; an IP address,
// HOST:PORT or a URL makes every argument an address (a domain).
func TestStatusArgs(t *testing.T) {
	for _, tt := range []struct {
		args             []string
		names, addresses []string
		code             int
	}{
		{args: []string{"cam5"}, names: []string{"cam5"}},
		{args: []string{"srv-1", "cam5"}, names: []string{"srv-1", "cam5"}},
		{args: []string{"10.1.0.11", "10.2.0.11:53540"}, addresses: []string{"10.1.0.11", "10.2.0.11:53540"}},
		{args: []string{"http://hq.example:53540"}, addresses: []string{"http://hq.example:53540"}},
		{args: []string{"-config", "x", "cam5"}, code: 2},
	} {
		a, code, ok := parseStatusArgs(tt.args, io.Discard)
		if code != tt.code || ok != (tt.code == 0) || !slices.Equal(a.names, tt.names) || !slices.Equal(a.addresses, tt.addresses) {
			t.Errorf("%q: names %q addresses %q exit %d; want %q %q %d", tt.args, a.names, a.addresses, code, tt.names, tt.addresses, tt.code)
		}
	}
}
