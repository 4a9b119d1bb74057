package image

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/runtime/agent"
	"vigil/runtime/api"
	"vigil/runtime/siteca"
)

// Bounds of the boot test. Software emulation on a loaded 2-core machine
// boots the image in about a minute; the bounds leave room without letting
// a hung guest stall CI.
const (
	bootBound      = 5 * time.Minute
	recordBound    = 2 * time.Minute
	poweroffBound  = 2 * time.Minute
	guestAddr      = "10.0.2.15"  // slirp's first DHCP address
	guestCamsim    = "10.0.2.100" // guestfwd to the host's camsim
	apiPort        = 53540
	testToken      = "image-test-token"
	diskSize       = 1 << 30
	linuxDataGUID  = "0fc63daf-8483-4772-8e79-3d69d8477de4"
	ovmfCode       = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars       = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	consoleTailLen = 200
)

// TestBoot boots the appliance image and records a simulated camera in it.
func TestBoot(t *testing.T) {
	img := os.Getenv("VIGIL_IMAGE")
	if img == "" {
		t.Skip("VIGIL_IMAGE not set: make image-test boots the appliance image")
	}
	for _, tool := range []string{"qemu-system-x86_64", "socat", "mkfs.ext4", "mkfs.vfat", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if _, err := os.Stat(ovmfCode); err != nil {
		t.Skip("OVMF not installed (apt-get install ovmf)")
	}
	vigil, err := filepath.Abs(envOr("VIGIL_BIN", "../../bin/vigil"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vigil); err != nil {
		t.Fatalf("vigil binary: %v (make build)", err)
	}
	dir := t.TempDir()

	// A copy of the disk, larger than the image so that the data partition
	// grows at boot, with the agent configuration preseeded on its data
	// partition.
	disk := filepath.Join(dir, "disk.img")
	run(t, "cp", "--sparse=always", img, disk)
	if err := os.Truncate(disk, diskSize); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(site, "main.hcl"), siteSpec)
	preseed(t, disk, filepath.Join(dir, "data"), site)
	vars := filepath.Join(dir, "vars.fd")
	run(t, "cp", ovmfVars, vars)

	camPort, fwdPort := freePort(t), freePort(t)
	camsim := exec.Command(vigil, "camsim", "-listen", "127.0.0.1:"+strconv.Itoa(camPort), "-paths", "2")
	camsim.Stdout, camsim.Stderr = io.Discard, io.Discard
	camsim.SysProcAttr = diesWithTest
	if err := camsim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { camsim.Process.Kill(); camsim.Wait() })

	// restrict=on keeps the guest off the host's networks and the internet
	// (its NTP client and resolver would otherwise reach out); the API is
	// forwarded to host loopback and the guest reaches camsim at
	// 10.0.2.100 through a guestfwd (slirp refuses one on 10.0.2.2).
	// VIGIL_CONSOLE keeps the guest console (make image-test: out/image).
	console := envOr("VIGIL_CONSOLE", filepath.Join(dir, "console.log"))
	monitor := filepath.Join(dir, "monitor.sock")
	netdev := fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:%d,guestfwd=tcp:%s:8554-cmd:socat - TCP:127.0.0.1:%d",
		fwdPort, apiPort, guestCamsim, camPort)
	qemu := exec.Command("qemu-system-x86_64",
		"-machine", "q35", "-m", "768", "-smp", "2", "-nographic", "-no-reboot",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+ovmfCode,
		"-drive", "if=pflash,format=raw,unit=1,file="+vars,
		"-drive", "file="+disk+",format=raw,if=virtio",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
		// A USB controller to plug the configuration stick into.
		"-device", "qemu-xhci,id=xhci",
		"-monitor", "unix:"+monitor+",server,nowait",
	)
	logf, err := os.Create(console)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	qemu.Stdout, qemu.Stderr = logf, logf
	qemu.SysProcAttr = diesWithTest
	t0 := time.Now()
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when qemu exits; qemuErr is its exit status then.
	exited := make(chan struct{})
	var qemuErr error
	go func() { qemuErr = qemu.Wait(); close(exited) }()
	t.Cleanup(func() {
		qemu.Process.Kill() // fails harmlessly once qemu has exited
		<-exited
	})
	fail := func(format string, args ...any) {
		t.Helper()
		t.Logf("guest console (last %d lines of %s):\n%s", consoleTailLen, console, tail(console, consoleTailLen))
		t.Fatalf(format, args...)
	}

	// 1. The agent answers through the forwarded port, with the server and
	// site names of the preseeded configuration.
	base := fmt.Sprintf("https://127.0.0.1:%d", fwdPort)
	var health api.Health
	if err := poll(bootBound, exited, func() error { return getJSON(base+"/v1/health", &health) }); err != nil {
		fail("no /v1/health answer within %v: %v", bootBound, err)
	}
	tHealth := time.Since(t0)
	if health.Server != "box" || health.Site != "lab" {
		fail("health %+v: want server box of site lab (the preseeded agent.hcl)", health)
	}
	t.Logf("API answered %.0fs after power-on", tHealth.Seconds())

	// 2. systemd logs "Started" for a Type=notify unit only after READY=1.
	if err := poll(time.Minute, exited, func() error {
		return consoleHas(console, "Started vigil.service")
	}); err != nil {
		fail("systemd did not report vigil.service started (READY=1): %v", err)
	}

	// 3. The site spec on the config partition is what the site runs: the
	// master's hot reload applied it, and planning the same files through
	// the forwarded API port finds nothing to change.
	var st api.State
	if err := poll(recordBound, exited, func() error {
		if err := getJSON(base+"/v1/state", &st); err != nil {
			return err
		}
		if st.Revision == 0 {
			return fmt.Errorf("no spec committed yet (%s)", st.ConfigError)
		}
		return nil
	}); err != nil {
		fail("the site spec of the config partition was not applied within %v: %v", recordBound, err)
	}
	tApply := time.Since(t0)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, string(siteCA.PEM()))
	// vigil plan reads the site's state: it trusts the site's CA and
	// sends the token, as an operator's shell would.
	planEnv := append(os.Environ(), api.EnvCACert+"="+caFile, api.EnvToken+"="+testToken)
	plan := exec.Command(vigil, "plan", "-detailed-exitcode", "-address", base, site)
	plan.Env = planEnv
	if out, err := plan.CombinedOutput(); err != nil {
		fail("vigil plan of the config partition's site against the guest: %v (exit 2: it differs)\n%s", err, out)
	}

	// 4. The camera records in the guest and its segments grow: the state
	// shows it recording here and the recorder's byte counter rises.
	var written float64
	if err := poll(recordBound, exited, func() error {
		var st api.State
		if err := getJSON(base+"/v1/state", &st); err != nil {
			return err
		}
		if err := recording(st, "cam1", "box"); err != nil {
			return err
		}
		n, err := metric(base+"/metrics", `vigil_recorder_bytes_total{camera="cam1"}`)
		if err != nil {
			return err
		}
		if written == 0 || n <= written {
			written = max(written, n)
			return fmt.Errorf("cam1: %.0f bytes written, waiting for more", n)
		}
		written = n
		return nil
	}); err != nil {
		fail("camera not recorded in the guest within %v: %v", recordBound, err)
	}
	tRecording := time.Since(t0)
	t.Logf("recording %.0fs after power-on (%.0fs after the spec was committed; %.0f bytes written)",
		tRecording.Seconds(), (tRecording - tApply).Seconds(), written)

	// 5. A configuration stick plugged into the running guest: its main.hcl
	// adds cam2; vigil-config-import copies it into the config directory,
	// the hot reload commits it (the revision increments) and cam2 records
	// while cam1 keeps recording.
	rev := st.Revision
	changed := strings.TrimSuffix(siteSpec, "}\n") + fmt.Sprintf(`  camera "cam2" {
    url    = "rtsp://%s:8554/cam2"
    server = "box"
  }
}
`, guestCamsim)
	writeFile(t, filepath.Join(site, "main.hcl"), changed)
	// Beside it, a file over the import's 16 MiB limit: imported, it would
	// make the configuration invalid and cam2 would never be committed.
	huge := filepath.Join(dir, "huge.hcl")
	writeFile(t, huge, strings.Repeat("# padding\n", 17<<20/10))
	stick := filepath.Join(dir, "stick.img")
	run(t, "mkfs.vfat", "-n", "VIGIL-CFG", "-C", stick, "24576")
	run(t, "mcopy", "-i", stick, filepath.Join(site, "main.hcl"), "::/main.hcl")
	run(t, "mcopy", "-i", stick, huge, "::/huge.hcl")
	tPlug := time.Now()
	for _, cmd := range []string{
		"drive_add 0 if=none,id=stick,format=raw,readonly=on,file=" + stick,
		"device_add usb-storage,bus=xhci.0,drive=stick,id=stick0",
	} {
		if out, err := monitorCommand(monitor, cmd); err != nil || strings.Contains(out, "rror") {
			fail("qemu monitor %q: %v %s", cmd, err, out)
		}
	}
	if err := poll(recordBound, exited, func() error {
		var st api.State
		if err := getJSON(base+"/v1/state", &st); err != nil {
			return err
		}
		if st.Revision <= rev {
			return fmt.Errorf("revision %d: the stick's change is not committed (%s)", st.Revision, st.ConfigError)
		}
		if err := recording(st, "cam2", "box"); err != nil {
			return err
		}
		return recording(st, "cam1", "box")
	}); err != nil {
		fail("the configuration stick's change was not hot-reloaded within %v: %v", recordBound, err)
	}
	if err := consoleMatches(console, `vigil config import: /dev/sd[a-z]+1?: main\.hcl -> /var/lib/vigil/config/site`); err != nil {
		fail("configuration stick: %v", err)
	}
	plan = exec.Command(vigil, "plan", "-detailed-exitcode", "-address", base, site)
	plan.Env = planEnv
	if out, err := plan.CombinedOutput(); err != nil {
		fail("vigil plan of the stick's site against the guest: %v (exit 2: it differs)\n%s", err, out)
	}
	t.Logf("configuration stick: cam2 recording %.0fs after it was plugged in", time.Since(tPlug).Seconds())

	// 6. The power button shuts down cleanly: the agent stops on SIGTERM
	// and exits 0 (recorders closed) instead of being killed at the stop
	// timeout.
	if _, err := monitorCommand(monitor, "system_powerdown"); err != nil {
		fail("qemu monitor: %v", err)
	}
	select {
	case <-exited:
		if qemuErr != nil {
			fail("qemu: %v", qemuErr)
		}
	case <-time.After(poweroffBound):
		fail("guest did not power off within %v", poweroffBound)
	}
	if err := consoleMatches(console, `vigil\[\d+\]: .*msg="?stopping`); err != nil {
		fail("the agent did not log its shutdown: %v", err)
	}
	for _, want := range []string{"vigil.service: Deactivated successfully", "reboot: Power down"} {
		if err := consoleHas(console, want); err != nil {
			fail("clean shutdown: %v", err)
		}
	}
	for _, bad := range []string{"vigil.service: State 'stop-sigterm' timed out", "vigil.service: Main process exited, code=killed", "vigil.service: Watchdog timeout"} {
		if consoleHas(console, bad) == nil {
			fail("unclean agent stop: console has %q", bad)
		}
	}
	t.Logf("boot to recording: %.0fs (API up at %.0fs); powered off cleanly %.0fs after power-on",
		tRecording.Seconds(), tHealth.Seconds(), time.Since(t0).Seconds())
}

// siteSpec is the site the guest runs: one server, the guest, recording
// one camera served by camsim on the host.
var siteSpec = fmt.Sprintf(`site "lab" {
  server "box" {
    address = %q
    storage "main" {
      path     = "recordings"
      max_size = "300MB"
    }
  }
  camera "cam1" {
    url    = "rtsp://%s:8554/cam1"
    server = "box"
  }
}
`, guestAddr, guestCamsim)

// preseed writes the agent configuration and the site's configuration
// directory (a copy of site) onto the disk's data partition: a fresh ext4 of
// the partition's size replaces the blank one.
func preseed(t *testing.T, disk, root, site string) {
	start, size, err := partition(disk, linuxDataGUID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "config")
	os.MkdirAll(cfg, 0o700)
	os.MkdirAll(filepath.Join(root, "data"), 0o750)
	writeFile(t, filepath.Join(cfg, "agent.hcl"), fmt.Sprintf(`server        = "box"
site          = "lab"
data_dir      = "/var/lib/vigil/data"
bind          = "0.0.0.0"
advertise     = %q
token_file    = "token"
site_key_file = "site.key"
config_dir    = "site"
`, guestAddr))
	run(t, "cp", "-r", site, filepath.Join(cfg, "site"))
	writeFile(t, filepath.Join(cfg, "token"), testToken+"\n")
	writeFile(t, filepath.Join(cfg, "site.key"), testSiteKey+"\n")
	fs := filepath.Join(t.TempDir(), "data.ext4")
	run(t, "mkfs.ext4", "-q", "-F", "-L", "vigil-data", "-E", "root_owner=0:0", "-d", root, fs, strconv.FormatInt(size/1024, 10)+"k")
	src, err := os.ReadFile(fs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(src, start); err != nil {
		t.Fatal(err)
	}
}

// partition finds the first GPT partition of the given type GUID and
// returns its byte offset and size.
func partition(disk, typeGUID string) (start, size int64, err error) {
	f, err := os.Open(disk)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	hdr := make([]byte, 92)
	if _, err := f.ReadAt(hdr, 512); err != nil {
		return 0, 0, err
	}
	if string(hdr[:8]) != "EFI PART" {
		return 0, 0, errors.New(disk + ": no GPT header")
	}
	entries := int64(binary.LittleEndian.Uint64(hdr[72:]))
	n := binary.LittleEndian.Uint32(hdr[80:])
	esz := binary.LittleEndian.Uint32(hdr[84:])
	want := guidBytes(typeGUID)
	e := make([]byte, esz)
	for i := range int64(n) {
		if _, err := f.ReadAt(e, entries*512+i*int64(esz)); err != nil {
			return 0, 0, err
		}
		if bytes.Equal(e[:16], want) {
			first := int64(binary.LittleEndian.Uint64(e[32:]))
			last := int64(binary.LittleEndian.Uint64(e[40:]))
			return first * 512, (last - first + 1) * 512, nil
		}
	}
	return 0, 0, fmt.Errorf("%s: no partition of type %s", disk, typeGUID)
}

// guidBytes is a GUID in GPT's mixed-endian byte order.
func guidBytes(s string) []byte {
	h := strings.ReplaceAll(s, "-", "")
	b := make([]byte, 16)
	for i := range b {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	// The first three fields are little-endian.
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

func recording(st api.State, camera, server string) error {
	for _, c := range st.Cameras {
		if c.Name != camera {
			continue
		}
		for _, r := range c.Recorders {
			if r.Server == server && r.State == "recording" {
				return nil
			}
		}
		return fmt.Errorf("camera %s is %s (%s), recorders %+v", camera, c.State, c.Reason, c.Recorders)
	}
	return fmt.Errorf("camera %s not in the state (revision %d)", camera, st.Revision)
}

// metric reads one sample of the Prometheus text at url.
func metric(url, series string) (float64, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", series, url)
}

// poll calls f every second until it succeeds, the bound passes or qemu
// exits.
func poll(bound time.Duration, exited <-chan struct{}, f func() error) error {
	deadline := time.Now().Add(bound)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-exited:
			return fmt.Errorf("qemu exited; last error: %v", err)
		case <-time.After(time.Second):
		}
	}
}

// testSiteKey is the preseeded site key: the agent's HTTPS is verified
// with the site CA derived from it, as an operator's VIGIL_CACERT does.
const testSiteKey = "aW1hZ2UtdGVzdC1zaXRlLWtleS0zMi1ieXRlcyEhISE="

var siteCA = func() *siteca.CA {
	key, err := agent.ParseSiteKey(testSiteKey)
	if err != nil {
		panic(err)
	}
	ca, err := siteca.New("lab", key)
	if err != nil {
		panic(err)
	}
	return ca
}()

var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: siteCA.Pool()}}}

// diesWithTest kills a child when the test binary dies (go test -timeout),
// so that no guest keeps running after it.
var diesWithTest = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

func getJSON(url string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// monitorCommand runs one command on qemu's human monitor and returns its
// output (between the command's echo and the next prompt).
func monitorCommand(sock, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const prompt = "(qemu) "
	var got []byte
	buf := make([]byte, 4096)
	readUntil := func(n int) error {
		for bytes.Count(got, []byte(prompt)) < n {
			k, err := c.Read(buf)
			if err != nil {
				return fmt.Errorf("%s: %w (read %q)", cmd, err, got)
			}
			got = append(got, buf[:k]...)
		}
		return nil
	}
	if err := readUntil(1); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	// The second prompt follows the command's output: it has been processed.
	if err := readUntil(2); err != nil {
		return "", err
	}
	out := string(got[bytes.Index(got, []byte(prompt))+len(prompt):])
	return strings.TrimSuffix(out, prompt), nil
}

func consoleHas(path, s string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(s)) {
		return fmt.Errorf("console has no %q", s)
	}
	return nil
}

func consoleMatches(path, expr string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !regexp.MustCompile(expr).Match(b) {
		return fmt.Errorf("console has no line matching %s", expr)
	}
	return nil
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
