package clock

// time_sync: the master answers SNTP (RFC 4330, server mode) on UDP 123 so
// that the servers' ordinary NTP client follows its clock, and Timesyncd
// points systemd-timesyncd on the other servers at the master.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	ntpLen = 48
	// ntpEpoch is 1900-01-01 in Unix seconds.
	ntpEpoch = -2208988800
	// SNTPStratum is the stratum the master announces: it serves its local
	// clock and has no upstream we know of, so a sane middle value that
	// clients accept (timesyncd refuses 0 and 16 and above).
	SNTPStratum = 10
)

// SNTPServer answers SNTP requests (mode 3) with server replies (mode 4)
// carrying the local clock, while answer reports true.
type SNTPServer struct {
	conn   net.PacketConn
	answer func() bool
	now    func() time.Time
	done   chan struct{}
}

// ServeSNTP listens on addr (UDP, normally port 123) and answers while
// answer() is true, typically: this agent is the master and the site's
// time_sync is on. Requests are dropped otherwise, so clients move on.
func ServeSNTP(addr string, answer func() bool) (*SNTPServer, error) {
	return serveSNTP(addr, answer, time.Now)
}

func serveSNTP(addr string, answer func() bool, now func() time.Time) (*SNTPServer, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("SNTP server: %w", err)
	}
	s := &SNTPServer{conn: c, answer: answer, now: now, done: make(chan struct{})}
	go s.run()
	return s, nil
}

// Addr is the address the server listens on.
func (s *SNTPServer) Addr() net.Addr { return s.conn.LocalAddr() }

// Close stops the server.
func (s *SNTPServer) Close() error {
	err := s.conn.Close()
	<-s.done
	return err
}

func (s *SNTPServer) run() {
	defer close(s.done)
	buf := make([]byte, 512)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		recv := s.now()
		if n < ntpLen || !s.answer() {
			continue
		}
		vn, mode := (buf[0]>>3)&7, buf[0]&7
		if mode != 3 || vn < 1 || vn > 4 {
			continue
		}
		var r [ntpLen]byte
		r[0] = vn<<3 | 4 // leap indicator 0 (synchronised), the client's version, server mode
		r[1] = SNTPStratum
		r[2] = buf[2]              // poll: the client's
		r[3] = 0xec                // precision 2^-20 s
		copy(r[12:16], "LOCL")     // reference: the local clock
		copy(r[24:32], buf[40:48]) // originate: the request's transmit time
		putNTPTime(r[16:24], recv) // reference time: the clock is its own source
		putNTPTime(r[32:40], recv)
		putNTPTime(r[40:48], s.now())
		s.conn.WriteTo(r[:], from)
	}
}

// putNTPTime writes t as a 64-bit NTP timestamp (seconds since 1900, 32.32).
func putNTPTime(b []byte, t time.Time) {
	sec := uint64(t.Unix() - ntpEpoch)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint64(b, sec<<32|frac)
}

// ntpTime reads a 64-bit NTP timestamp.
func ntpTime(b []byte) time.Time {
	v := binary.BigEndian.Uint64(b)
	return time.Unix(int64(v>>32)+ntpEpoch, int64((v&0xffffffff)*1e9>>32))
}

// TimesyncdConf is where Timesyncd writes its drop-in.
const TimesyncdConf = "/run/systemd/timesyncd.conf.d/vigil.conf"

// Timesyncd keeps systemd-timesyncd pointed at the master while the site's
// time_sync is on: it writes a drop-in naming the site's virtual_ip (which
// follows the master) or else the master's address, and removes it when
// time_sync is off or this server is the master. The file is compared with
// what it should be (so one left by an earlier run is corrected) and Restart
// is called after every change of it.
type Timesyncd struct {
	Path    string
	Restart func() error
	Log     *slog.Logger
}

// Update brings the drop-in in line with the agent's state.
func (t *Timesyncd) Update(a Agent) {
	st := a.State()
	var want []byte
	switch {
	case st.Spec == nil || st.Master == "":
		return // nothing known yet: keep what is there
	case !st.Spec.TimeSync || st.Master == a.Name():
	case st.Spec.VirtualIP != "":
		ip, _, _ := strings.Cut(st.Spec.VirtualIP, "/")
		want = timesyncdConf(ip)
	default:
		if s := st.Spec.Server(st.Master); s != nil {
			want = timesyncdConf(s.Address)
		}
	}
	have, err := os.ReadFile(t.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Log.Warn("reading the NTP client's drop-in (time_sync)", "err", err)
		return
	}
	if bytes.Equal(want, have) {
		return // the same content, or absent and none wanted
	}
	if err := t.write(want); err != nil {
		t.Log.Warn("pointing the NTP client at the master (time_sync)", "err", err)
		return
	}
	if err := t.Restart(); err != nil {
		t.Log.Warn("restarting the NTP client after pointing it at the master (time_sync)", "err", err)
	}
}

func (t *Timesyncd) write(content []byte) error {
	if content == nil {
		if err := os.Remove(t.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(t.Path), 0o755); err != nil {
		return err
	}
	tmp := t.Path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, t.Path)
}

func timesyncdConf(addr string) []byte {
	// The empty assignment resets the server list of earlier files.
	return fmt.Appendf(nil, "# Written by vigil agent: the site's time_sync follows the master.\n[Time]\nNTP=\nNTP=%s\n", addr)
}
