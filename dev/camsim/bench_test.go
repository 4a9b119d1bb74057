package camsim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawReader plays a path over RTSP/TCP with hand-written requests and
// discards the interleaved stream: a reader that costs almost nothing, so
// that a benchmark measures camsim itself.
func rawReader(host, path string) (net.Conn, error) {
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	url := "rtsp://" + host + "/" + path
	request := func(cseq int, method, target, extra string) (textproto.MIMEHeader, error) {
		fmt.Fprintf(c, "%s %s RTSP/1.0\r\nCSeq: %d\r\n%s\r\n", method, target, cseq, extra)
		tp := textproto.NewReader(br)
		status, err := tp.ReadLine()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(status, "RTSP/1.0 200") {
			return nil, fmt.Errorf("%s: %s", method, status)
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return nil, err
		}
		if n, _ := strconv.Atoi(h.Get("Content-Length")); n > 0 {
			if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
				return nil, err
			}
		}
		return h, nil
	}
	if _, err := request(1, "DESCRIBE", url, ""); err != nil {
		c.Close()
		return nil, err
	}
	h, err := request(2, "SETUP", url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
	if err != nil {
		c.Close()
		return nil, err
	}
	session, _, _ := strings.Cut(h.Get("Session"), ";")
	if _, err := request(3, "PLAY", url+"/", "Session: "+session+"\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	go func() {
		_, _ = io.Copy(io.Discard, br)
	}()
	return c, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServe1080p serves N paths of the 1080p H.264 clip, each played by
// one raw reader, and reports the process CPU (camsim plus the near-free
// readers) as a percentage of one core per stream, and the frames camsim
// could not generate in time. One op is one frame period (40 ms); run it with
// -benchtime 100x or more.
func BenchmarkServe1080p(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			s, err := Start(Options{Listen: "127.0.0.1:0", Paths: n, Profile: "1080p"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for i := 1; i <= n; i++ {
				c, err := rawReader(s.Addr(), "cam"+strconv.Itoa(i))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
			}
			time.Sleep(time.Second) // let every reader reach steady state
			before := s.Stats()
			cpu0, t0 := cpuTime(), time.Now()
			b.ResetTimer()
			for range b.N {
				time.Sleep(time.Second / clipFPS)
			}
			b.StopTimer()
			cpu, wall := cpuTime()-cpu0, time.Since(t0)
			var sent, skipped, werr int64
			var bytes uint64
			for name, st := range s.Stats() {
				sent += st.Sent - before[name].Sent
				skipped += st.Skipped - before[name].Skipped
				werr += st.WriteErrors - before[name].WriteErrors
				bytes += st.Bytes - before[name].Bytes
			}
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu%/stream")
			b.ReportMetric(float64(sent)/wall.Seconds()/float64(n), "fps/stream")
			b.ReportMetric(float64(bytes)*8/wall.Seconds()/float64(n)/1e6, "Mbit/s/stream")
			b.ReportMetric(float64(skipped), "skipped")
			b.ReportMetric(float64(werr), "write-errors")
		})
	}
}
