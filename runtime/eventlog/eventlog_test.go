package eventlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

func ev(t time.Time, kind, camera string) api.Event {
	return api.Event{Time: t, Severity: "info", Kind: kind, Server: "s1", Camera: camera, Message: kind + " " + camera}
}

// The history survives a restart, filters by time, kind and camera, and
// a damaged file costs its bad lines (reported once), not the query.
func TestRestartFilterAndCorruption(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	clock := func() time.Time { return now }
	l, err := Open(dir, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(ev(t0, "camera.unreachable", "cam1"))
	l.Append(ev(t0.Add(time.Minute), "server.dead", ""))
	l.Append(ev(t0.Add(2*time.Minute), "camera.stalled", "cam2"))
	l.Close()
	// A crash cuts a line, and something damages the file.
	files, _ := filepath.Glob(filepath.Join(dir, "*"+fileExt))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{\"time\":\"2026-12-04T10:03:00Z\",\"kind\":\"garbage\n{\"time\": cut")
	f.Close()

	var reported []string
	l, err = Open(dir, Options{Now: clock, Corrupt: func(file string, bad int) { reported = append(reported, fmt.Sprintf("%s %d", file, bad)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Append(ev(t0.Add(3*time.Minute), "camera.unreachable", "cam2"))

	kinds := func(evs []api.Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, e.Kind+"/"+e.Camera)
		}
		return strings.Join(s, " ")
	}
	if got, want := kinds(l.Query(api.EventFilter{})), "camera.unreachable/cam1 server.dead/ camera.stalled/cam2 camera.unreachable/cam2"; got != want {
		t.Errorf("all events: %s, want %s", got, want)
	}
	if len(reported) != 1 || !strings.HasSuffix(reported[0], " 2") {
		t.Errorf("corrupt reports %v, want one report of 2 bad lines (a damaged one, a cut one)", reported)
	}
	l.Query(api.EventFilter{})
	if len(reported) != 1 {
		t.Errorf("a damaged file is reported once, got %v", reported)
	}
	if got, want := kinds(l.Query(api.EventFilter{Kind: "camera.*"})), "camera.unreachable/cam1 camera.stalled/cam2 camera.unreachable/cam2"; got != want {
		t.Errorf("kind camera.*: %s, want %s", got, want)
	}
	if got, want := kinds(l.Query(api.EventFilter{Camera: "cam2", Since: t0.Add(90 * time.Second)})), "camera.stalled/cam2 camera.unreachable/cam2"; got != want {
		t.Errorf("cam2 since 10:01:30: %s, want %s", got, want)
	}
	if got, want := kinds(l.Query(api.EventFilter{Until: t0.Add(time.Minute), Limit: 1})), "server.dead/"; got != want {
		t.Errorf("until 10:01, newest 1: %s, want %s", got, want)
	}
}

// Retention removes whole files past it; the size bound removes the oldest
// files, never the open one.
func TestRetentionAndSizeBound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	l, err := Open(dir, Options{Now: func() time.Time { return now }, MaxBytes: 64 << 10, Retention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Three days of events, one a minute, ~200 bytes each: far more than 64 KiB.
	start := now.Add(-72 * time.Hour)
	for i := range 72 * 60 {
		l.Append(ev(start.Add(time.Duration(i)*time.Minute), "camera.stalled", fmt.Sprintf("cam%d", i%50)))
		if i%1000 == 0 {
			l.Flush() // more than the queue holds
		}
	}
	l.Flush()
	var total int64
	files, _ := filepath.Glob(filepath.Join(dir, "*"+fileExt))
	for _, f := range files {
		st, _ := os.Stat(f)
		total += st.Size()
	}
	if total > 64<<10 {
		t.Errorf("%d bytes on disk, bound is %d", total, 64<<10)
	}
	evs := l.Query(api.EventFilter{})
	if len(evs) == 0 || !evs[len(evs)-1].Time.Equal(now.Add(-time.Minute)) {
		t.Fatalf("the newest events must stay: %d events", len(evs))
	}
	// With room to spare, retention alone decides.
	l2dir := t.TempDir()
	l2, _ := Open(l2dir, Options{Now: func() time.Time { return now }, MaxBytes: 1 << 30, Retention: 48 * time.Hour})
	defer l2.Close()
	for i := range 72 * 4 {
		l2.Append(ev(start.Add(time.Duration(i)*15*time.Minute), "x", "")) // a file an hour
	}
	l2.Append(ev(now, "x", ""))
	evs = l2.Query(api.EventFilter{})
	if first := evs[0].Time; first.Before(now.Add(-49*time.Hour)) || first.After(now.Add(-47*time.Hour)) {
		t.Errorf("oldest kept event at %s, want about 48h before %s", first, now)
	}
}

// FuzzRead: whatever a history file holds, a query reads what it can and
// reports the rest; it never fails or panics.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-04T10:00:00Z","severity":"info","kind":"x","message":"m"}` + "\n"))
	f.Add([]byte("{\"time\": cut"))
	f.Add([]byte("\x00\xff\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "20261204T100000.000000000Z"+fileExt), data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{Now: func() time.Time { return time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC) }, Corrupt: func(string, int) {}})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for _, e := range l.Query(api.EventFilter{Kind: "*"}) {
			if e.Time.IsZero() {
				t.Errorf("an event without a time: %+v", e)
			}
		}
	})
}

// A full queue drops events (and says so) instead of holding up Append.
func TestQueueFull(t *testing.T) {
	dropped := 0
	dir := t.TempDir()
	l, err := Open(dir, Options{Dropped: func() { dropped++ }})
	if err != nil {
		t.Fatal(err)
	}
	// A disk that does not keep up: the writer waits for the files' lock.
	l.mu.Lock()
	n := queueSize + 10
	for range n {
		l.Append(ev(time.Now(), "x", ""))
	}
	l.mu.Unlock()
	if dropped < 9 { // the writer may hold one event taken before it waited
		t.Fatalf("%d events dropped, want at least 9 of %d", dropped, n)
	}
	if kept := len(l.Query(api.EventFilter{})); kept != n-dropped {
		t.Errorf("%d events kept, want %d", kept, n-dropped)
	}
	l.Close()
	l.Append(ev(time.Now(), "z", "")) // after Close: ignored
}
