package clock

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func skewed(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

func TestMeasureOffset(t *testing.T) {
	r, err := serve("127.0.0.1:0", key, skewed(700*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Measure(t.Context(), r.conn.LocalAddr().String(), key, 5)
	if err != nil {
		t.Fatal(err)
	}
	if s.Offset < 650*time.Millisecond || s.Offset > 750*time.Millisecond || s.RTT < 0 {
		t.Errorf("sample %+v, want an offset of about 700ms", s)
	}
	t.Logf("offset %v, round trip %v", s.Offset, s.RTT)
}

func TestWrongKeyIsNotAnswered(t *testing.T) {
	r, err := Serve("127.0.0.1:0", key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conn, err := net.Dial("udp", r.conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	request := func(k []byte, id uint64) []byte {
		req := append([]byte(magicReq), binary.BigEndian.AppendUint64(nil, id)...)
		return append(req, mac(k, req)...)
	}
	// The responder reads requests in order: when the second (the site's
	// key) is answered, the first (another site's key) has been handled, so
	// the first answer tells whether it was answered (no waiting for none).
	conn.Write(request([]byte("another site's key, 32 bytes...."), 1))
	conn.Write(request(key, 2))
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 128)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if id := binary.BigEndian.Uint64(buf[4:12]); n != respLen || id != 2 {
		t.Errorf("the first answer (%d bytes) is to request %d; want only an answer to request 2, the one with the site's key", n, id)
	}
}

type fakeAgent struct {
	name string
	st   api.State
	mu   sync.Mutex
	evs  []api.Event
}

func (f *fakeAgent) Name() string     { return f.name }
func (f *fakeAgent) State() api.State { return f.st }
func (f *fakeAgent) Emit(ev api.Event) {
	f.mu.Lock()
	f.evs = append(f.evs, ev)
	f.mu.Unlock()
}

func TestMeasurerEvent(t *testing.T) {
	r, err := serve("127.0.0.1:0", key, skewed(-800*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	host, port := splitHostPort(t, r.conn.LocalAddr().String())
	fa := &fakeAgent{name: "s2", st: api.State{Master: "s1", Spec: &spec.Site{Servers: []*spec.Server{
		{Name: "s1", Address: host, Port: port}, {Name: "s2", Address: "127.0.0.1", Port: 1}}}}}
	reg := prometheus.NewRegistry()
	m, err := Start(fa, Options{Key: key, Interval: time.Hour, Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The event follows the measurement: wait for both.
	deadline := time.Now().Add(5 * time.Second)
	for {
		fa.mu.Lock()
		evs := len(fa.evs)
		fa.mu.Unlock()
		if off, ok := m.Offset(); ok && evs > 0 {
			if off > -750*time.Millisecond || off < -850*time.Millisecond {
				t.Errorf("offset %v, want about -800ms", off)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no measurement and event")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var g dto.Metric
	m.gauge.Write(&g)
	if v := g.GetGauge().GetValue(); v > -0.75 || v < -0.85 {
		t.Errorf("vigil_clock_offset_seconds = %v", v)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if len(fa.evs) != 1 || fa.evs[0].Kind != "clock.offset" || fa.evs[0].Severity != "warning" {
		t.Errorf("events %+v", fa.evs)
	}
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
