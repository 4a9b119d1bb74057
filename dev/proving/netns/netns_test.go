package netns

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLab(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	prefix := fmt.Sprintf("vgn%d", os.Getpid())
	lab, err := New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	if err := lab.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	a, err := lab.AddHost("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddHost("b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Attach("br0", "10.233.0.1/24"); err != nil {
		t.Fatal(err)
	}
	kb, err := b.Attach("br0", "10.233.0.2/24")
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Listen("tcp", "10.233.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := a.Dial(ctx, "tcp", "10.233.0.2:7000")
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		if err == nil && string(got) != "hello" {
			err = fmt.Errorf("read %q", got)
		}
		return err
	}
	// New links forward once their carrier is up, which a busy machine may
	// take longer than one dial to report: wait for the condition.
	if err := pingUntil(ping, 20*time.Second); err != nil {
		t.Fatalf("a cannot reach b: %v", err)
	}
	// Nothing of the lab is in the root namespace.
	if out, _ := exec.Command("ip", "-brief", "addr").Output(); strings.Contains(string(out), "10.233.0.") || strings.Contains(string(out), prefix) {
		t.Errorf("the root namespace has a lab interface:\n%s", out)
	}
	if err := kb.Cut(); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err == nil {
		t.Error("b is reachable while cut off")
	}
	if err := kb.Heal(); err != nil {
		t.Fatal(err)
	}
	// A link set up again likewise.
	if err := pingUntil(ping, 20*time.Second); err != nil {
		t.Errorf("b unreachable after healing: %v", err)
	}
	if err := kb.Slow("1mbit"); err != nil {
		t.Fatal(err)
	}
	if err := pingUntil(ping, 20*time.Second); err != nil {
		t.Errorf("b unreachable through a slow link: %v", err)
	}
	if err := kb.Slow(""); err != nil {
		t.Fatal(err)
	}
	out, err := b.Command("ip", "-brief", "addr").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.233.0.2") {
		t.Errorf("Command does not run in the namespace: %v: %s", err, out)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	list, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(list), prefix) {
		t.Errorf("namespaces left after Close:\n%s", list)
	}
}

// pingUntil retries ping until it succeeds or within has passed, and
// returns the last error.
func pingUntil(ping func() error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := ping()
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

func TestSweep(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	prefix := fmt.Sprintf("vgs%d", os.Getpid())
	lab, err := New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.AddHost("x"); err != nil {
		t.Fatal(err)
	}
	removed, err := Sweep(prefix + "-")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("Sweep removed %v, want the switch and the host", removed)
	}
}
