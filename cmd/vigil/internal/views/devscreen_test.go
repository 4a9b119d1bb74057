package views

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// quickstart is the demo site while srv-2 is down: its cameras covered,
// one camera being handed back (a recorder with no role yet).
func quickstart() *api.State {
	st := &api.State{Site: "quickstart", Revision: 2, Master: "srv-1", Version: "dev", Answering: "srv-1"}
	for i, name := range []string{"srv-1", "srv-2", "srv-3"} {
		s := api.ServerState{Name: name, Kind: "recording", Role: "member", Health: api.HealthAlive, Recording: 4,
			CPUPercent: 2.5 + float64(i), MemoryBytes: int64(60+i) << 20,
			Storage: []api.StorageState{{Path: "/tmp/vigil-dev-1/" + name + "/recordings", UsedBytes: int64(40+i) << 20, FreeBytes: 80 << 30}}}
		if i == 0 {
			s.Role, s.Recording = "master", 8
		}
		if name == "srv-2" {
			s.Health, s.Since, s.Recording = api.HealthDead, now.Add(-95*time.Second), 0
		}
		st.Servers = append(st.Servers, s)
	}
	for i := 1; i <= 12; i++ {
		srv := fmt.Sprintf("srv-%d", (i-1)/4+1)
		c := api.CameraState{Name: fmt.Sprintf("cam%d", i), Server: srv, State: api.CameraRecording,
			Recorders: []api.Recorder{{Server: srv, Role: "primary", State: "recording"}}}
		if srv == "srv-2" {
			c.State, c.Reason = api.CameraCovered, "srv-2 dead, covered by srv-1"
			c.Recorders = []api.Recorder{{Server: "srv-1", Role: "backup", State: "recording"}}
			c.LastGap = &api.Gap{Camera: c.Name, Start: now.Add(-94 * time.Second), End: now.Add(-92 * time.Second), Cause: "server failure"}
		}
		st.Cameras = append(st.Cameras, c)
	}
	st.Cameras[0].Recorders = append(st.Cameras[0].Recorders, api.Recorder{Server: "srv-3", State: "connecting"})
	st.Cameras = append(st.Cameras, api.CameraState{Name: "lobby", Server: "srv-2", State: api.CameraCovered, Reason: "srv-2 dead, covered by srv-3",
		Recorders: []api.Recorder{{Server: "srv-3", Role: "backup", State: "recording"}},
		LastGap:   &api.Gap{Camera: "lobby", Start: now.Add(-94 * time.Second), End: now.Add(-91 * time.Second), Cause: "server failure"}})
	return st
}

func demo(st *api.State) DevScreen {
	return DevScreen{
		Export: "export VIGIL_ADDR=https://127.0.0.11:53540 VIGIL_TOKEN=bkg2ePbBUM1e1L-VUInUVJ2m VIGIL_CACERT=/tmp/vigil-dev-1/ca.pem",
		Hints: []string{
			"In another terminal: vigil status · vigil plan|apply examples/quickstart",
			"vigil dev stop|kill|start srv-2 · or type here: stop srv-2, help, quit",
		},
		State: st,
		Last:  "stop srv-2: srv-2 stopped; its cameras move to their backups",
	}
}

// TestDevScreenGolden: the demo screen at 80×24, as a new user's terminal
// shows it: 23 lines (the 24th is the prompt), none wider than 80, the
// export line whole and second.
func TestDevScreenGolden(t *testing.T) {
	lines := demo(quickstart()).Lines(80, 24, Options{Now: now})
	checkScreen(t, lines, 80, 24)
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "devscreen-80x24.txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the 80×24 screen differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// TestDevScreenSizes: at any size the screen fits, keeps the export
// commands whole and does not show a recorder as "srv-3 ()".
func TestDevScreenSizes(t *testing.T) {
	st := quickstart()
	for _, size := range [][2]int{{80, 24}, {40, 12}, {120, 40}, {60, 10}, {200, 60}} {
		w, h := size[0], size[1]
		for _, color := range []bool{false, true} {
			lines := demo(st).Lines(w, h, Options{Now: now, Color: color})
			checkScreen(t, lines, w, h)
			text := strings.Join(lines, "\n")
			if strings.Contains(text, "()") {
				t.Errorf("%dx%d: an empty bracket:\n%s", w, h, text)
			}
		}
	}
	// A tall screen lists every camera; a short one summarises the rest.
	if text := strings.Join(demo(st).Lines(120, 40, Options{Now: now}), "\n"); strings.Contains(text, "more (vigil status -all)") || !strings.Contains(text, "cam12") {
		t.Errorf("120x40 should list every camera:\n%s", text)
	}
}

func checkScreen(t *testing.T, lines []string, w, h int) {
	t.Helper()
	if len(lines) != h-1 {
		t.Errorf("%dx%d: %d lines, want %d", w, h, len(lines), h-1)
	}
	exports := 0
	for i, l := range lines {
		// An export command is never cut, even where it is wider than a
		// narrow terminal.
		if n := visible(l); n > w && !(strings.HasPrefix(l, "export ") && !strings.Contains(l[7:], " ")) {
			t.Errorf("%dx%d: line %d is %d wide: %q", w, h, i+1, n, l)
		}
		if strings.HasPrefix(l, "export ") {
			exports++
			if strings.Contains(l, "…") {
				t.Errorf("%dx%d: the export line is cut: %q", w, h, l)
			}
		}
	}
	if exports == 0 || !strings.Contains(strings.Join(lines, " "), "VIGIL_TOKEN=bkg2ePbBUM1e1L-VUInUVJ2m") {
		t.Errorf("%dx%d: no export line:\n%s", w, h, strings.Join(lines, "\n"))
	}
}
