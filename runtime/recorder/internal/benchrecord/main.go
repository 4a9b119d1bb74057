// Command benchrecord measures the recorder on the real path: camsim serves
// N streams from one process, the recorder (recorder.Manager writing into a
// storage.Store) records them from another, and only the recorder process's
// CPU and memory are measured. `make bench-record` runs it.
//
// For every N it waits until all cameras record, lets them warm up, then
// measures over -duration: CPU time of the recorder process (utime+stime from
// /proc) as % of one core per stream, its peak RSS per stream, and the bytes
// that reached the recording directory per second. At the end it stalls
// camsim (so nothing is in flight), stops the recorder cleanly and compares
// the frames camsim sent from each reader's first keyframe with the video
// frames found in the files (storage.Probe): the difference is frames lost.
//
// The last column is the machine's load average: on a shared machine other
// processes compete for the same cores, which shows in frames lost first.
//
// The same binary plays the two child roles (-role camsim, -role recorder).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vigil/dev/camsim"
	"vigil/runtime/recorder"
	"vigil/runtime/storage"
)

func main() {
	role := flag.String("role", "", "internal: camsim or recorder")
	counts := flag.String("n", "10,50,100,200", "comma-separated numbers of streams")
	duration := flag.Duration("duration", 30*time.Second, "measurement window per N")
	warmup := flag.Duration("warmup", 5*time.Second, "time between all cameras recording and the measurement")
	profile := flag.String("profile", "1080p", "camsim profile")
	codec := flag.String("codec", "h264", "camsim codec")
	base := flag.String("url", "", "internal: camsim address")
	dir := flag.String("dir", "", "internal: recording directory")
	cpuProfile := flag.String("cpuprofile", "", "write the recorder's CPU profile of the measurement to this file")
	flag.Parse()

	var err error
	switch *role {
	case "camsim":
		err = runCamsim(*counts, *profile, *codec)
	case "recorder":
		err = runRecorder(*counts, *base, *dir, *cpuProfile)
	case "":
		err = drive(*counts, *duration, *warmup, *profile, *codec, *cpuProfile)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrecord:", err)
		os.Exit(1)
	}
}

// runCamsim serves N paths and answers commands on stdin: "stall" stops
// every path's frames, "stats" prints the PathStats as one JSON line.
func runCamsim(n, profile, codec string) error {
	paths, err := strconv.Atoi(n)
	if err != nil {
		return err
	}
	srv, err := camsim.Start(camsim.Options{Listen: "127.0.0.1:0", Paths: paths, Profile: profile, Codec: codec})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println(srv.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "stall":
			for _, p := range srv.Paths() {
				srv.Stall(p, time.Hour)
			}
			fmt.Println("ok")
		case "stats":
			b, _ := json.Marshal(srv.Stats())
			fmt.Println(string(b))
		}
	}
	return nil
}

// runRecorder records N cameras until SIGTERM, printing "ready" once all
// of them record.
func runRecorder(n, addr, dir, cpuProfile string) error {
	cams, err := strconv.Atoi(n)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := storage.Open([]storage.Volume{{Path: dir}}, log)
	if err != nil {
		return err
	}
	m, err := recorder.NewManager(recorder.ManagerConfig{ServerName: "bench", Store: store, Logger: log})
	if err != nil {
		return err
	}
	var list []recorder.Camera
	for i := 1; i <= cams; i++ {
		list = append(list, recorder.Camera{Name: fmt.Sprintf("cam%d", i), URL: fmt.Sprintf("rtsp://%s/cam%d", addr, i)})
	}
	m.Set(list)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	tick := time.NewTicker(200 * time.Millisecond)
	ready := false
	for !ready {
		select {
		case <-stop:
			m.Close()
			return store.Close()
		case <-tick.C:
			ready = true
			for _, st := range m.Status() {
				if st.State != "recording" {
					ready = false
				}
			}
		}
	}
	fmt.Println("ready")
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
	}
	<-stop
	pprof.StopCPUProfile()
	var dropped, gaps int64
	for _, st := range m.Status() { // before Close, which forgets the cameras
		dropped += st.Dropped
	}
	m.Close()
	for _, c := range list {
		gaps += int64(len(store.Gaps(c.Name)))
	}
	fmt.Printf("dropped %d gaps %d\n", dropped, gaps)
	return store.Close()
}

type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func start(args ...string) (*child, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

func (c *child) line() (string, error) {
	s, err := c.out.ReadString('\n')
	return strings.TrimSpace(s), err
}

type result struct {
	n                       int
	cpuPerStream, rssPerMB  float64
	bytesPerSec             float64
	sent, fromKey, recorded int64
	dropped, gaps, behind   int64
	writeErrors             int64
	load                    string // the machine\'s 1-minute load average at the end of the window
}

func drive(counts string, d, warmup time.Duration, profile, codec, cpuProfile string) error {
	fmt.Printf("recorder benchmark: camsim %s %s, %s per N after %s warm-up, %d CPUs\n", profile, codec, d, warmup, numCPU())
	fmt.Printf("%5s %14s %14s %12s %12s %12s %12s %8s %6s\n", "N", "CPU%/stream", "RSS MB/stream", "MB/s written", "frames sent", "from keyfr.", "recorded", "lost", "load")
	for _, f := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		r, err := runOne(n, d, warmup, profile, codec, cpuProfile)
		if err != nil {
			return fmt.Errorf("%d streams: %w", n, err)
		}
		fmt.Printf("%5d %14.3f %14.2f %12.1f %12d %12d %12d %8d %6s\n", r.n, r.cpuPerStream, r.rssPerMB, r.bytesPerSec/1e6,
			r.sent, r.fromKey, r.recorded, r.fromKey-r.recorded, r.load)
		if r.dropped > 0 || r.behind > 0 || r.gaps > 0 || r.writeErrors > 0 {
			fmt.Printf("      (recorder: %d frames dropped, %d gaps; camsim: %d frames late, %d RTP packets not queued)\n",
				r.dropped, r.gaps, r.behind, r.writeErrors)
		}
	}
	return nil
}

func runOne(n int, d, warmup time.Duration, profile, codec, cpuProfile string) (result, error) {
	r := result{n: n}
	dir, err := os.MkdirTemp("", "benchrecord-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)

	cs, err := start("-role", "camsim", "-n", strconv.Itoa(n), "-profile", profile, "-codec", codec)
	if err != nil {
		return r, err
	}
	defer func() { cs.in.Close(); cs.cmd.Wait() }()
	addr, err := cs.line()
	if err != nil {
		return r, fmt.Errorf("camsim: %w", err)
	}

	rec, err := start("-role", "recorder", "-n", strconv.Itoa(n), "-url", addr, "-dir", dir, "-cpuprofile", cpuProfile)
	if err != nil {
		return r, err
	}
	defer rec.cmd.Process.Kill() // only if something below failed
	if l, err := rec.line(); err != nil || l != "ready" {
		return r, fmt.Errorf("recorder did not get ready: %q %v", l, err)
	}
	time.Sleep(warmup)

	pid := rec.cmd.Process.Pid
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return r, err
	}
	bytes0 := dirBytes(dir)
	t0 := time.Now()
	var peakRSS int64
	for time.Since(t0) < d {
		time.Sleep(time.Second)
		if rss, err := rssBytes(pid); err == nil {
			peakRSS = max(peakRSS, rss)
		}
	}
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return r, err
	}
	elapsed := time.Since(t0).Seconds()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.load = strings.Fields(string(b))[0]
	}
	bytes1 := dirBytes(dir)
	const hz = 100 // USER_HZ on Linux
	r.cpuPerStream = float64(cpu1-cpu0) / hz / elapsed * 100 / float64(n)
	r.rssPerMB = float64(peakRSS) / 1e6 / float64(n)
	r.bytesPerSec = float64(bytes1-bytes0) / elapsed

	// Stop the sources, let what is in flight arrive, stop the recorder.
	fmt.Fprintln(cs.in, "stall")
	if _, err := cs.line(); err != nil {
		return r, err
	}
	time.Sleep(1500 * time.Millisecond)
	rec.cmd.Process.Signal(syscall.SIGTERM)
	summary, _ := rec.line()
	fmt.Sscanf(summary, "dropped %d gaps %d", &r.dropped, &r.gaps)
	if err := rec.cmd.Wait(); err != nil {
		return r, fmt.Errorf("recorder: %w", err)
	}
	fmt.Fprintln(cs.in, "stats")
	line, err := cs.line()
	if err != nil {
		return r, err
	}
	var stats map[string]camsim.PathStats
	if err := json.Unmarshal([]byte(line), &stats); err != nil {
		return r, err
	}
	for _, ps := range stats {
		r.behind += ps.Skipped
		r.writeErrors += ps.WriteErrors
		for _, s := range ps.Sessions {
			r.sent += s.Frames
			r.fromKey += s.FramesFromKeyframe
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.mp4"))
	for _, f := range files {
		info, err := storage.Probe(f)
		if err != nil {
			return r, fmt.Errorf("%s: %w", f, err)
		}
		r.recorded += int64(info.VideoSamples())
	}
	return r, nil
}

func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, nil
}

func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
