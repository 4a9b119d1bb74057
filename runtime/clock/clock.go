// Package clock measures each server's clock offset to its site's master,
// NTP-style, over UDP on the agent's API port (the API itself is TCP).
//
// Every agent answers time requests (Responder); every agent that is not
// the master asks the master every Interval (Measurer). A request carries
// the sender's time t0; the answer adds the master's receive and send times
// t1 and t2; with t3 the arrival time, the offset of the master's clock is
// ((t1-t0)+(t2-t3))/2 and the round trip (t3-t0)-(t2-t1). Of a burst of
// samples the one with the shortest round trip counts. Packets carry an
// HMAC-SHA256 keyed with the site key, so only the site's servers are
// answered and answers cannot be forged.
//
// The offset is exported as vigil_clock_offset_seconds (the master's clock
// minus this server's; 0 on the master) and an event "clock.offset" is
// raised when it exceeds MaxOffset (500 ms), and again when it is back
// under it.
package clock

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/runtime/api"

	"vigil/hcl/spec"
)

// MaxOffset is the offset above which an event is raised.
const MaxOffset = 500 * time.Millisecond

const (
	magicReq  = "VGT1"
	magicResp = "VGT2"
	reqLen    = 4 + 8 + sha256.Size
	respLen   = 4 + 3*8 + sha256.Size
)

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// Responder answers time requests of the site's servers.
type Responder struct {
	conn net.PacketConn
	key  []byte
	now  func() time.Time // the clock answered with (tests skew it)
	done chan struct{}
}

// Serve answers time requests on UDP addr ("ip:port", the agent's API
// address) until Close.
func Serve(addr string, key []byte) (*Responder, error) { return serve(addr, key, time.Now) }

func serve(addr string, key []byte, now func() time.Time) (*Responder, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("clock: time responder: %w", err)
	}
	r := &Responder{conn: conn, key: key, now: now, done: make(chan struct{})}
	go r.run()
	return r, nil
}

// Close stops answering.
func (r *Responder) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}

func (r *Responder) run() {
	defer close(r.done)
	buf := make([]byte, 128)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		t1 := r.now()
		p := buf[:n]
		if n != reqLen || string(p[:4]) != magicReq || !hmac.Equal(p[12:], mac(r.key, p[:12])) {
			continue
		}
		out := make([]byte, 0, respLen)
		out = append(out, magicResp...)
		out = append(out, p[4:12]...)
		out = binary.BigEndian.AppendUint64(out, uint64(t1.UnixNano()))
		out = binary.BigEndian.AppendUint64(out, uint64(r.now().UnixNano()))
		out = append(out, mac(r.key, out)...)
		r.conn.WriteTo(out, from)
	}
}

// Sample is one measurement of the master's clock.
type Sample struct {
	// Offset is the master's clock minus this server's.
	Offset time.Duration
	// RTT is the network round trip.
	RTT time.Duration
}

// Measure sends n requests to the responder at addr and returns the sample
// with the shortest round trip.
func Measure(ctx context.Context, addr string, key []byte, n int) (Sample, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return Sample{}, err
	}
	defer conn.Close()
	best := Sample{RTT: -1}
	buf := make([]byte, 128)
	var lastErr error
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t0 := time.Now()
		req := append([]byte(magicReq), binary.BigEndian.AppendUint64(nil, uint64(t0.UnixNano()))...)
		req = append(req, mac(key, req)...)
		deadline := t0.Add(time.Second)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		conn.SetDeadline(deadline)
		if _, err := conn.Write(req); err != nil {
			lastErr = err
			continue
		}
		for {
			m, err := conn.Read(buf)
			t3 := time.Now()
			if err != nil {
				lastErr = err
				break
			}
			p := buf[:m]
			if m != respLen || string(p[:4]) != magicResp || !hmac.Equal(p[28:], mac(key, p[:28])) ||
				int64(binary.BigEndian.Uint64(p[4:12])) != t0.UnixNano() {
				continue // not the answer to this request
			}
			t1 := time.Unix(0, int64(binary.BigEndian.Uint64(p[12:20])))
			t2 := time.Unix(0, int64(binary.BigEndian.Uint64(p[20:28])))
			s := Sample{Offset: (t1.Sub(t0) + t2.Sub(t3)) / 2, RTT: t3.Sub(t0) - t2.Sub(t1)}
			if best.RTT < 0 || s.RTT < best.RTT {
				best = s
			}
			break
		}
	}
	if best.RTT < 0 {
		if lastErr == nil {
			lastErr = ctx.Err()
		}
		return Sample{}, fmt.Errorf("no answer from %s: %w", addr, lastErr)
	}
	return best, nil
}

// Agent is what the Measurer needs of the running agent (*agent.Agent).
type Agent interface {
	Name() string
	State() api.State
	Emit(api.Event)
}

// Options tune a Measurer.
type Options struct {
	// Key is the site key (agent.Config.SiteKey).
	Key []byte
	// Interval between measurements (default 10 s).
	Interval time.Duration
	// Samples per measurement (default 5).
	Samples int
	// Registerer receives vigil_clock_offset_seconds (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Timesyncd, when set, is updated every Interval (time_sync).
	Timesyncd *Timesyncd
}

// Measurer measures this server's offset to the master periodically.
type Measurer struct {
	a     Agent
	o     Options
	log   *slog.Logger
	gauge prometheus.Gauge

	mu     sync.Mutex
	offset time.Duration
	known  bool
	over   bool

	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts measuring. Close stops it.
func Start(a Agent, o Options) (*Measurer, error) {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Samples <= 0 {
		o.Samples = 5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Measurer{a: a, o: o, log: o.Logger.With("component", "clock"), done: make(chan struct{}),
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_clock_offset_seconds",
			Help: "The master's clock minus this server's, measured over UDP on the API port (0 on the master)."})}
	if o.Registerer != nil {
		if err := o.Registerer.Register(m.gauge); err != nil {
			return nil, fmt.Errorf("clock metrics: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.run(ctx)
	return m, nil
}

// Close stops measuring.
func (m *Measurer) Close() {
	m.cancel()
	<-m.done
}

// Offset is the last measured offset (the master's clock minus this
// server's); ok is false before the first measurement.
func (m *Measurer) Offset() (offset time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.offset, m.known
}

func (m *Measurer) run(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		m.measure(ctx)
		if m.o.Timesyncd != nil {
			m.o.Timesyncd.Update(m.a)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// MasterAddr is the master's API address ("ip:port") in st, or "" when
// there is no master or it is not in the spec. The time responder listens
// there (UDP).
func MasterAddr(st *api.State) string {
	if st.Spec == nil || st.Master == "" {
		return ""
	}
	if s := st.Spec.Server(st.Master); s != nil {
		return net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
	}
	return ""
}

func (m *Measurer) measure(ctx context.Context) {
	st := m.a.State()
	var off time.Duration
	switch addr := MasterAddr(&st); {
	case addr == "":
		return // no master: nothing to compare with
	case st.Master == m.a.Name():
		// The master is the reference.
	default:
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := Measure(mctx, addr, m.o.Key, m.o.Samples)
		cancel()
		if err != nil {
			m.log.Debug("measuring the clock offset to the master", "master", st.Master, "err", err)
			return
		}
		off = s.Offset
	}
	m.gauge.Set(off.Seconds())
	m.mu.Lock()
	m.offset, m.known = off, true
	wasOver := m.over
	m.over = off > MaxOffset || off < -MaxOffset
	over := m.over
	m.mu.Unlock()
	switch {
	case over && !wasOver:
		msg := fmt.Sprintf("this server's clock is %v off the master's (%s), more than %v: recordings' times disagree between servers; check NTP (time_sync)", off.Round(time.Millisecond), st.Master, MaxOffset)
		m.log.Warn(msg)
		m.a.Emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventClockOffset, Server: m.a.Name(), Message: msg})
	case !over && wasOver:
		msg := fmt.Sprintf("this server's clock is back within %v of the master's (%v)", MaxOffset, off.Round(time.Millisecond))
		m.log.Info(msg)
		m.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventClockOffset, Server: m.a.Name(), Message: msg})
	}
}
