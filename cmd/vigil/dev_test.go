package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDevArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		ok       bool
		code     int
		path     string
		stderrOK string
	}{
		{args: nil, ok: true, path: filepath.Join("examples", "quickstart")},
		{args: []string{"-data", "d", "-site", "hq", "./cfg"}, ok: true, path: "./cfg"},
		{args: []string{"a", "b"}, code: 2, stderrOK: "one configuration path at most, got 2"},
		{args: []string{"-keep", "-data", "d"}, code: 2, stderrOK: "-data DIR is always kept"},
		{args: []string{"-nope"}, code: 2, stderrOK: "flag provided but not defined"},
		{args: []string{"-h"}, code: 0, stderrOK: "Usage: vigil dev"},
		{args: []string{"frobnicate"}, code: 2, stderrOK: `unknown subcommand "frobnicate"`},
		{args: []string{"stpo"}, code: 2, stderrOK: `Did you mean "stop"?`},
	} {
		var stderr bytes.Buffer
		a, code, ok := parseDevArgs(tc.args, &stderr)
		if ok != tc.ok || code != tc.code || ok && a.path != tc.path || !strings.Contains(stderr.String(), tc.stderrOK) {
			t.Errorf("%q: ok %v code %d path %q stderr %q; want ok %v code %d path %q stderr with %q",
				tc.args, ok, code, a.path, stderr.String(), tc.ok, tc.code, tc.path, tc.stderrOK)
		}
	}
	var stderr bytes.Buffer
	if code := runDev([]string{"does/not/exist"}, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "no such file") {
		t.Errorf("a missing path: exit %d, %q", code, stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer that runDev writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeServerAddr picks a loopback address and a port P with P..P+2 free.
func freeServerAddr(t *testing.T) (string, int) {
	for range 100 {
		ip := fmt.Sprintf("127.0.%d.%d", rand.IntN(250)+1, rand.IntN(250)+2)
		port := 20000 + rand.IntN(40000)
		free := true
		for p := port; p <= port+2 && free; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return ip, port
		}
	}
	t.Fatal("no free loopback address")
	return "", 0
}

// TestDevRun runs vigil dev on a two-server site at random addresses, with
// output that is not a terminal: summary lines, a typed stop, quit.
func TestDevRun(t *testing.T) {
	ipA, portA := freeServerAddr(t)
	ipB, portB := freeServerAddr(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cam := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`site "t" {
  keepalive = "300ms"
  server "a" {
    address = %q
    port    = %d
    storage "main" {
      path = "recordings"
    }
  }
  server "b" {
    address = %q
    port    = %d
    storage "main" {
      path = "recordings"
    }
  }
  camera "one" {
    url    = "rtsp://%s/cam1"
    server = "a"
    backup = ["b"]
  }
  camera "two" {
    url    = "rtsp://%s/cam2"
    server = "b"
    backup = ["a"]
  }
}
`, ipA, portA, ipB, portB, cam, cam)
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")

	// A start that fails (srv a's port is taken) leaves no data directory.
	busy, err := net.Listen("tcp", net.JoinHostPort(ipA, strconv.Itoa(portA)))
	if err != nil {
		t.Fatal(err)
	}
	var failOut bytes.Buffer
	if code := runDev([]string{"-data", data, "-control", "127.0.0.1:0", dir}, io.Discard, &failOut); code != 1 || !strings.Contains(failOut.String(), "in use") {
		t.Errorf("a start on a busy port: exit %d, %s", code, failOut.String())
	}
	busy.Close()
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the failed start left %s behind (%v)", data, err)
	}

	in, typed := io.Pipe()
	devStdin = in
	defer func() { devStdin = os.Stdin }()

	var stdout, stderr lockedBuffer
	done := make(chan int)
	go func() {
		done <- runDev([]string{"-data", data, "-control", "127.0.0.1:0", dir}, &stdout, &stderr)
	}()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(stdout.String(), what) {
			select {
			case code := <-done:
				t.Fatalf("vigil dev exited (%d) before %q; stdout:\n%s\nstderr:\n%s", code, what, stdout.String(), stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q; stdout:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("export VIGIL_ADDR=https://" + net.JoinHostPort(ipA, strconv.Itoa(portA)) + " VIGIL_TOKEN=")
	waitFor(" VIGIL_CACERT=" + filepath.Join(data, "ca.pem") + "\n")
	waitFor("Console: https://" + net.JoinHostPort(ipA, strconv.Itoa(portA)) + "/ in a browser")
	waitFor("); log in with the VIGIL_TOKEN above as its API token")
	waitFor("Site t is at revision 1: 5 added")
	waitFor("a alive 1 · b alive 1 · cameras: 2 recording")
	fmt.Fprintln(typed, "stop b")
	waitFor("stop b: stopped b") // the command, echoed with its answer
	waitFor("cameras: 1 covered, 1 recording")
	fmt.Fprintln(typed, "start b")
	waitFor("a alive 1 · b alive 1 · cameras: 2 recording")

	// The operator applies a change of their own: camera two goes.
	token := stdout.String()[strings.Index(stdout.String(), "VIGIL_TOKEN=")+len("VIGIL_TOKEN="):]
	token = token[:strings.IndexByte(token, ' ')]
	edited := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(edited, []byte(cfg[:strings.Index(cfg, `  camera "two"`)]+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIGIL_TOKEN", token)
	t.Setenv("VIGIL_CACERT", filepath.Join(data, "ca.pem"))
	var applyOut, applyErr bytes.Buffer
	if code := run([]string{"apply", "-auto-approve", "-address", "https://" + net.JoinHostPort(ipA, strconv.Itoa(portA)), edited}, &applyOut, &applyErr); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, applyOut.String(), applyErr.String())
	}
	fmt.Fprintln(typed, "quit")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d; stderr: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vigil dev did not stop on quit")
	}
	waitFor("The recordings are kept:\n  a          " + filepath.Join(data, "a", "recordings"))

	// Run again from the same directory: the same token, the site as the
	// operator left it (revision 2, without camera two), and the
	// configuration not applied over it.
	typed.Close()
	in, typed = io.Pipe()
	devStdin = in
	stdout = lockedBuffer{}
	go func() {
		done <- runDev([]string{"-data", data, "-control", "127.0.0.1:0", dir}, &stdout, &stderr)
	}()
	waitFor("Continuing site t from " + data + " at revision 2, as last applied, with the same token.")
	waitFor(dir + " was not applied over it: it differs from the site (1 to add, 0 to change, 0 to destroy)")
	waitFor("VIGIL_TOKEN=" + token + " ")
	waitFor("a alive 1 · b alive 0 · cameras: 1 recording")
	if strings.Contains(stdout.String(), "Applying") {
		t.Errorf("the second run applied the configuration again:\n%s", stdout.String())
	}
	fmt.Fprintln(typed, "quit")
	if code := <-done; code != 0 {
		t.Errorf("second run: exit %d; stderr: %s", code, stderr.String())
	}
}
