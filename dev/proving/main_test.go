package proving

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"vigil/dev/proving/netns"
)

func TestMain(m *testing.M) {
	if netns.Available() == nil {
		if err := sweep(); err != nil {
			fmt.Fprintln(os.Stderr, "proving: removing leftovers of earlier runs:", err)
		}
		// An interrupted run still stops its agents and removes its
		// namespaces.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			s := <-sig
			fmt.Fprintf(os.Stderr, "proving: %v: stopping agents and removing namespaces\n", s)
			closeAll()
			os.Exit(1)
		}()
	}
	code := m.Run()
	closeAll()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
