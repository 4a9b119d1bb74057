package agent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// TestHoldFootage: any agent answers which footage of the site a hold
// covers, asking its peers: a camera recorded on two servers (constant
// redundancy) shows on both; a server that is down is named as unanswered.
func TestHoldFootage(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 2)
	ctx := ctxFor(t, 60*time.Second)
	cam1 := s.CameraSpec(1, "rec-1", "rec-2")
	cam1.Redundancy = spec.RedundancyConstant
	site := s.Spec(cam1, s.CameraSpec(2, "rec-2"))
	now := time.Now().UTC()
	site.Holds = []*spec.Hold{
		{Name: "case", Cameras: []string{"cam1"}, From: now.Add(-time.Hour), To: now.Add(time.Hour), Reason: "test"},
		{Name: "elsewhere", Cameras: []string{"cam9*"}, From: now.Add(-time.Hour), To: now.Add(time.Hour)},
	}
	if _, err := s.Commit(ctx, site); err != nil {
		t.Fatal(err)
	}
	req := api.HoldFootageRequest{Holds: site.Holds}
	var got *api.HoldFootage
	for {
		f, err := s.Client("rec-2").HoldFootage(ctx, req)
		if err == nil && len(f.Footage) == 2 {
			got = f
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("footage on both servers never showed: %+v, %v", f, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, server := range []string{"rec-1", "rec-2"} {
		f := got.Footage[i]
		if f.Hold != "case" || f.Server != server || !slices.Equal(f.Cameras, []string{"cam1"}) || f.Segments < 1 || f.Bytes <= 0 || !f.First.Before(f.Last) {
			t.Errorf("footage %d: %+v", i, f)
		}
	}
	if len(got.Unanswered) != 0 {
		t.Errorf("unanswered %v", got.Unanswered)
	}
	local, err := s.Client("rec-2").HoldFootage(ctx, api.HoldFootageRequest{Holds: site.Holds, Local: true})
	if err != nil || len(local.Footage) != 1 || local.Footage[0].Server != "rec-2" {
		t.Errorf("local answer %+v, %v", local, err)
	}
	if _, err := s.Client("rec-2").HoldFootage(ctx, api.HoldFootageRequest{Holds: []*spec.Hold{{Name: "x", From: now, To: now}}}); err == nil {
		t.Error("an empty period was answered")
	}

	// The recordings listing names the holds that keep part of it.
	for cam, want := range map[string][]string{"cam1": {"case"}, "cam2": nil} {
		rec, err := s.Client("rec-2").Recordings(ctx, cam, now.Add(-time.Minute), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range rec.Holds {
			names = append(names, h.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("recordings of %s name holds %v, want %v", cam, names, want)
		}
	}

	if err := s.Stop("rec-1"); err != nil {
		t.Fatal(err)
	}
	f, err := s.Client("rec-2").HoldFootage(ctx, req)
	if err != nil || !slices.Equal(f.Unanswered, []string{"rec-1"}) || len(f.Footage) != 1 || f.Footage[0].Server != "rec-2" {
		t.Errorf("with rec-1 down: %+v, %v", f, err)
	}
}

// TestHoldSurvivesFullTmpfs records two 1080p cameras onto a small tmpfs
// with a hold on the first seconds of one: the disk fills again and again,
// retention deletes the unheld footage (the other camera's of the same
// time included), and the held files stay, and ffprobe decodes them.
func TestHoldSurvivesFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec-1", "recordings")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "vigil-test", rec).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", rec).Run() })
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Cameras: 2, Dir: dir, Camsim: camsim.Options{Profile: "1080p"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close) // before the unmount
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 120*time.Second)
	site := s.Spec(s.CameraSpec(1, "rec-1"), s.CameraSpec(2, "rec-1"))
	if _, err := s.Commit(ctx, site); err != nil {
		t.Fatal(err)
	}
	// The hold's period is taken from when cam1 records: on a busy machine
	// it may start later than 8 s after the apply, and the hold would then
	// have no footage to keep.
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return len(devsite.Recorders(st, "cam1")) > 0 }); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC()
	h := &spec.Hold{Name: "case", Cameras: []string{"cam1"}, From: start.Add(-time.Minute), To: start.Add(8 * time.Second), Reason: "test"}
	site.Holds = []*spec.Hold{h}
	if _, err := s.Commit(ctx, site); err != nil {
		t.Fatal(err)
	}
	c := s.Client("rec-1")
	// The retention of a full disk has taken cam2's footage of the hold's
	// period, while cam1's is kept.
	var held api.HeldFootage
	for {
		f, err := c.HoldFootage(ctx, api.HoldFootageRequest{Holds: []*spec.Hold{h, {Name: "cam2", Cameras: []string{"cam2"}, From: h.From, To: h.To}}})
		if err == nil && time.Now().After(h.To.Add(10*time.Second)) {
			var cam1, cam2 int
			for _, x := range f.Footage {
				if x.Hold == "case" {
					held, cam1 = x, x.Segments
				} else {
					cam2 = x.Segments
				}
			}
			if cam1 == 0 {
				t.Fatalf("the hold's footage is gone: %+v", f)
			}
			if cam2 == 0 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("cam2's footage of the period was never deleted: %+v %v", f, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := st.Servers[0].Storage[0]; u.HeldBytes < held.Bytes {
		t.Errorf("storage state %+v, want at least %d bytes held", u, held.Bytes)
	}
	files, _ := filepath.Glob(filepath.Join(rec, "cam1", "*", "*.mp4"))
	n := 0
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + " " + strings.TrimSuffix(filepath.Base(f), ".mp4")
		begin, err := time.Parse("2006-01-02 15-04-05.000000", name)
		if err != nil || !begin.Before(h.To) {
			continue
		}
		n++
		if _, err := exec.LookPath("ffprobe"); err != nil {
			continue
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", f).CombinedOutput()
		if err != nil || strings.Contains(string(out), "rror") {
			t.Errorf("ffprobe %s: %v: %s", f, err, out)
		}
	}
	if n < held.Segments {
		t.Errorf("%d files of cam1 start in the hold, the index says %d", n, held.Segments)
	}
	t.Logf("held: %d segments, %d bytes of cam1; cam2's of the same period deleted", held.Segments, held.Bytes)
}
