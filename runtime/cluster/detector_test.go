package cluster

import (
	"testing"
	"time"

	"vigil/runtime/api"
)

// fakeLoop drives a detector the way healthLoop does, on an injected clock:
// a tick every eighth of a keepalive, judging a peer on each punctual tick.
type fakeLoop struct {
	t   *testing.T
	d   *detector
	now time.Time
	p   *peer
	// witnesses is how many other members could give a second opinion.
	witnesses int
	// worst is the worst verdict seen.
	worst string
	asks  int
}

const k = 500 * time.Millisecond // the quickstart's keepalive

func newFakeLoop(t *testing.T, witnesses int) *fakeLoop {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := &fakeLoop{t: t, d: newDetector(k, now), now: now, p: &peer{}, witnesses: witnesses, worst: api.HealthAlive}
	l.d.answered(l.p, now)
	return l
}

var rank = map[string]int{api.HealthAlive: 0, api.HealthSuspect: 1, api.HealthDead: 2}

// run ticks for d; answering says whether the peer answers at a tick, by
// the time since the start of the run.
func (l *fakeLoop) run(d time.Duration, step time.Duration, answering func(at time.Duration) bool) {
	for at := time.Duration(0); at < d; at += step {
		l.now = l.now.Add(step)
		if answering(at) {
			l.d.answered(l.p, l.now)
		}
		if !l.d.tick(l.now) {
			continue
		}
		v := l.d.judge(l.p, l.now, l.witnesses)
		if v.ask {
			l.asks++
			l.d.asking(l.p, l.now, l.witnesses)
		}
		if rank[v.health] > rank[l.worst] {
			l.worst = v.health
		}
	}
}

func always(time.Duration) bool { return true }
func never(time.Duration) bool  { return false }

// A stall of this server (its loop does not run for 3 s, then catches up)
// accuses nobody: the peer's answers queued meanwhile arrive right after.
func TestStalledJudgeAccusesNobody(t *testing.T) {
	l := newFakeLoop(t, 0)
	l.run(2*time.Second, k/8, always)
	for range 5 {
		// 3 s without a tick, and the peer's answer is only read after it.
		l.run(3*time.Second+k/8, 3*time.Second, never)
		l.run(time.Second, k/8, always)
	}
	if l.worst != api.HealthAlive {
		t.Fatalf("a stalled judge gave a %s verdict on a peer that answered", l.worst)
	}
	l.run(3*time.Second+k/8, 3*time.Second, never)
	if l.d.awareness() == 0 {
		t.Error("awareness 0 right after a stall")
	}
}

// Ticks that each come a little late (a starved process) still measure
// the silence the judge could hear: the peer that answers every time it is
// asked stays alive.
func TestLateTicksStretchVerdicts(t *testing.T) {
	l := newFakeLoop(t, 0)
	// Every tick 3/16 of a keepalive late, and the peer's answers are read
	// every fourth tick only: 0.62 s between answers, over the suspect
	// threshold of a punctual judge.
	step := k/8 + 3*k/16
	l.run(30*time.Second, step, func(at time.Duration) bool { return at%(4*step) == 0 })
	if l.worst != api.HealthAlive {
		t.Fatalf("late ticks gave a %s verdict", l.worst)
	}
	if l.d.awareness() != maxAwareness {
		t.Errorf("awareness %d after constant lateness, want %d", l.d.awareness(), maxAwareness)
	}
	// Punctual again: the score decays to 0.
	l.run(10*time.Second, k/8, always)
	if l.d.awareness() != 0 {
		t.Errorf("awareness %d after 10 s of punctual ticks, want 0", l.d.awareness())
	}
}

// A peer that really is silent is still declared dead by a punctual judge,
// late first, then suspect, then dead.
func TestSilentPeerIsDead(t *testing.T) {
	l := newFakeLoop(t, 0)
	l.run(time.Second, k/8, always)
	var seq []string
	last := ""
	for range 40 {
		l.now = l.now.Add(k / 8)
		l.d.tick(l.now)
		v := l.d.judge(l.p, l.now, 0)
		h := v.health
		if v.late {
			h = "late"
		}
		if h != last {
			seq = append(seq, h)
			last = h
		}
	}
	want := []string{api.HealthAlive, "late", api.HealthSuspect, api.HealthDead}
	if len(seq) != len(want) {
		t.Fatalf("verdicts %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", seq, want)
		}
	}
}

// A dead verdict waits for a second opinion when there is someone to ask:
// one member that still hears the peer withholds it; members that do not
// hear it, or silence past askTimeout, give it.
func TestSecondOpinion(t *testing.T) {
	silent := func(l *fakeLoop) verdict {
		var v verdict
		for range 40 {
			l.now = l.now.Add(k / 8)
			l.d.tick(l.now)
			v = l.d.judge(l.p, l.now, l.witnesses)
			if v.ask {
				l.d.asking(l.p, l.now, l.witnesses)
				return v
			}
			if v.health == api.HealthDead {
				return v
			}
		}
		return v
	}
	step := func(l *fakeLoop) verdict {
		l.now = l.now.Add(k / 8)
		l.d.tick(l.now)
		return l.d.judge(l.p, l.now, l.witnesses)
	}

	t.Run("heard elsewhere", func(t *testing.T) {
		l := newFakeLoop(t, 2)
		if v := silent(l); !v.ask || v.health != api.HealthSuspect {
			t.Fatalf("at the dead threshold: %+v, want suspect and a question", v)
		}
		l.p.opinion("b", false)
		l.p.opinion("c", true)
		for range 40 {
			if v := step(l); v.health == api.HealthDead {
				t.Fatal("dead although a member still hears the peer")
			}
		}
	})
	t.Run("nobody hears it", func(t *testing.T) {
		l := newFakeLoop(t, 2)
		silent(l)
		l.p.opinion("b", false)
		if v := step(l); v.health != api.HealthSuspect {
			t.Fatalf("one of two answers: %s, want suspect", v.health)
		}
		l.p.opinion("c", false)
		if v := step(l); v.health != api.HealthDead {
			t.Fatalf("both say no: %s, want dead", v.health)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		l := newFakeLoop(t, 1)
		silent(l)
		dead := false
		for range 8 {
			if step(l).health == api.HealthDead {
				dead = true
			}
		}
		if !dead {
			t.Fatal("still not dead a second after an unanswered question")
		}
	})
	t.Run("an answer clears the question", func(t *testing.T) {
		l := newFakeLoop(t, 1)
		silent(l)
		l.d.answered(l.p, l.now)
		if v := step(l); v.health != api.HealthAlive || !l.p.asked.IsZero() {
			t.Fatalf("after an answer: %+v, question pending %v", v, !l.p.asked.IsZero())
		}
	})
}

// A server vouches for a peer it heard within the suspect threshold only.
func TestHears(t *testing.T) {
	l := newFakeLoop(t, 0)
	if !l.d.hears(l.p, l.now.Add(k/2)) {
		t.Error("does not vouch for a peer heard half a keepalive ago")
	}
	if l.d.hears(l.p, l.now.Add(k)) {
		t.Error("vouches for a peer silent for a keepalive")
	}
}

// A dead verdict stands while the judge grows late (its thresholds
// stretch): only an answer takes it back.
func TestVerdictStandsUntilAnAnswer(t *testing.T) {
	l := newFakeLoop(t, 0)
	l.run(time.Second, k/8, always)
	l.run(2*time.Second, k/8, never)
	if v := l.d.judge(l.p, l.now, 0); v.health != api.HealthDead {
		t.Fatalf("after 2 s of silence: %s, want dead", v.health)
	}
	// The judge's ticks now come late: the score rises and stretches the
	// thresholds past the silence so far.
	l.run(time.Second, k/8+k/5, never)
	if l.d.awareness() == 0 {
		t.Fatal("awareness stayed 0")
	}
	if v := l.d.judge(l.p, l.now, 0); v.health != api.HealthDead {
		t.Fatalf("dead member judged %s once the judge ran late", v.health)
	}
	l.d.answered(l.p, l.now)
	if v := l.d.judge(l.p, l.now, 0); v.health != api.HealthAlive {
		t.Fatalf("after an answer: %s, want alive", v.health)
	}
}
