package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// repeatWindow: a library message repeated within this window is logged at
// debug level. Raft without quorum logs the same election lines every
// second, forever; the first occurrence is enough for an operator.
const repeatWindow = time.Minute

// addrPattern matches the IP addresses (with ports) that library messages
// carry. They are left out of the repeat key: otherwise a sender defeats
// the filter by changing its source port or address with every packet.
var addrPattern = regexp.MustCompile(`\[?[0-9a-fA-F]*[:.][0-9a-fA-F:.]*[0-9a-fA-F]\]?(:[0-9]+)?`)

// repeatKey is msg without its addresses.
func repeatKey(msg string) string { return addrPattern.ReplaceAllString(msg, "ADDR") }

type repeats struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// level returns lv, or debug when msg was logged within repeatWindow.
func (r *repeats) level(msg string, lv slog.Level) slog.Level {
	if lv < slog.LevelInfo {
		return lv
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil || len(r.last) > 1000 {
		r.last = map[string]time.Time{}
	}
	key := repeatKey(msg)
	if t, ok := r.last[key]; ok && now.Sub(t) < repeatWindow {
		return slog.LevelDebug
	}
	r.last[key] = now
	return lv
}

// hclogFor gives raft an hclog.Logger that forwards to slog. hclog writes
// one JSON object per line; the writer below re-emits it at the right level.
func hclogFor(l *slog.Logger, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Info,
		JSONFormat: true,
		Output:     &hclogWriter{l: l},
	})
}

type hclogWriter struct {
	l *slog.Logger
	r repeats
}

func (w *hclogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			w.l.Info(string(line))
			continue
		}
		level := slog.LevelInfo
		switch m["@level"] {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		msg, _ := m["@message"].(string)
		attrs := make([]any, 0, 2*len(m))
		if mod, ok := m["@module"].(string); ok {
			attrs = append(attrs, "component", mod)
		}
		for k, v := range m {
			if !strings.HasPrefix(k, "@") {
				attrs = append(attrs, k, v)
			}
		}
		w.l.Log(context.Background(), w.r.level(msg, level), msg, attrs...)
	}
	return len(p), nil
}

// stdlogFor gives memberlist a *log.Logger whose "[LEVEL] memberlist: msg"
// lines are re-emitted through slog at the matching level.
func stdlogFor(l *slog.Logger) *log.Logger {
	return log.New(&stdlogWriter{l: l}, "", 0)
}

// stdlogLevels maps memberlist's level prefixes to slog levels.
var stdlogLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}, {"[ERROR]", slog.LevelError},
}

type stdlogWriter struct {
	l *slog.Logger
	r repeats
	// refused, if set, takes memberlist's reports of inbound streams that
	// failed authentication (wrong site key, another site's label): they
	// are reported by source, a few a minute, with an event.
	refused func(host netip.Addr, why string)
}

// streamRefusals are memberlist's messages for an inbound stream without
// the site key or label.
var streamRefusals = []string{"failed to receive", "unacceptable label"}

func (w *stdlogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for _, p := range stdlogLevels {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			level = p.level
			line = strings.TrimSpace(rest)
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if w.refused != nil && level == slog.LevelError {
		for _, r := range streamRefusals {
			_, from, _ := strings.Cut(line, "from=")
			if f := strings.Fields(from); len(f) > 0 && strings.Contains(line, r) {
				if ap, err := netip.ParseAddrPort(f[0]); err == nil {
					w.refused(ap.Addr().Unmap(), "failed authentication")
					level = slog.LevelDebug
				}
			}
		}
	}
	if strings.Contains(line, "refused: ") {
		// Refused members are reported by the cluster itself (refuse).
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), w.r.level(line, level), line, "component", "memberlist")
	return len(p), nil
}

// discardLogger is used when Config.Logger is nil.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
