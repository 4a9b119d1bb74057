package cluster

import (
	"time"

	"vigil/runtime/api"
)

// detector turns the silence of members into late, suspect and dead
// verdicts without crying wolf when this server itself is the slow one. It
// is a pure state machine: healthLoop gives it the times (tests give it
// theirs), so nothing here reads a clock.
//
// Three rules, after memberlist's Lifeguard ("local health awareness"):
//
//   - Deafness: healthLoop ticks every eighth of a keepalive. A tick that
//     comes later than that means this process was not running (CPU
//     starvation, a GC or swap pause, a suspended VM); the excess is time in
//     which no answer could have been heard. A member is judged on the
//     silence it kept while this server was listening: the time since its
//     last answer minus the deaf time since then. A tick that itself comes
//     late by more than a quarter keepalive gives no verdict at all.
//   - Awareness: each late tick raises a score (0 to maxAwareness), a
//     keepalive of punctual ticks lowers it by one; the suspect and dead
//     thresholds are stretched by score+1, as memberlist scales its probe
//     timeouts by its awareness.
//   - A second opinion: before a member is declared dead (which moves
//     `normal` cameras), up to two other members are asked whether they
//     still hear it. One that does withholds the verdict (the member stays
//     suspect); the verdict is given when all asked say no, or none
//     answered within askTimeout. A site with no other member to ask
//     decides alone.
type detector struct {
	k      time.Duration // the keepalive
	period time.Duration // between ticks: k/8
	last   time.Time     // the last tick
	deaf   time.Duration // total time this server could not listen
	score  int           // awareness: 0 while this server keeps time
	onTime int           // punctual ticks since the score last changed
}

// maxAwareness bounds the awareness score: thresholds stretch at most
// (maxAwareness+1) times.
const maxAwareness = 3

func newDetector(k time.Duration, now time.Time) *detector {
	return &detector{k: k, period: k / 8, last: now}
}

// tick records one tick of the judging loop at now and tells whether this
// server listened well enough to judge on it.
func (d *detector) tick(now time.Time) bool {
	excess := now.Sub(d.last) - d.period
	d.last = now
	// Timers of a healthy process are punctual to well under a
	// millisecond; a sixteenth of a keepalive is already a stall.
	if excess < d.k/16 {
		d.onTime++
		if d.onTime >= 8 && d.score > 0 {
			d.score--
			d.onTime = 0
		}
		return true
	}
	d.deaf += excess
	d.onTime = 0
	d.score = min(d.score+1, maxAwareness)
	return excess < d.k/4
}

// Awareness is the detector's awareness score, for metrics and tests.
func (d *detector) awareness() int { return d.score }

// peer is what the detector keeps about one member.
type peer struct {
	lastAck   time.Time     // its last answer (or when it was first seen)
	deafAtAck time.Duration // the detector's deaf total then

	asked   time.Time       // when a second opinion was asked; zero when none is pending
	askedN  int             // how many members were asked
	answers map[string]bool // asked member -> it still hears the member

	// verdict is the last health given; only an answer softens it, so
	// that thresholds stretched later do not take an accusation back.
	verdict string
}

// answered records an answer from the member at now.
func (d *detector) answered(p *peer, now time.Time) {
	p.lastAck, p.deafAtAck = now, d.deaf
	p.asked, p.askedN, p.answers = time.Time{}, 0, nil
	p.verdict = api.HealthAlive
}

// silence is how long the member has been silent while this server was
// listening.
func (d *detector) silence(p *peer, now time.Time) time.Duration {
	return now.Sub(p.lastAck) - (d.deaf - p.deafAtAck)
}

// Thresholds of silence, before stretching: a member is late after three
// eighths of a keepalive, suspect after three quarters (judged every
// eighth: suspect within one keepalive), dead after 1.75 keepalives and at
// least deadAfterMin.
func (d *detector) lateAfter() time.Duration { return 3 * d.k / 8 }
func (d *detector) suspectAfter() time.Duration {
	return time.Duration(d.score+1) * (d.k - d.k/4)
}
func (d *detector) deadAfter() time.Duration {
	return time.Duration(d.score+1) * max(2*d.k-d.k/4, deadAfterMin)
}

// askTimeout is how long the answers of the members asked for a second
// opinion are awaited.
func (d *detector) askTimeout() time.Duration {
	return time.Duration(d.score+1) * max(d.k/2, 250*time.Millisecond)
}

// verdict is the detector's judgement of one member.
type verdict struct {
	health string
	late   bool
	// ask: ask members for a second opinion now (the caller asks and
	// records how many with asking).
	ask bool
}

// judge judges a member at now; witnesses is how many other members could
// give a second opinion. A verdict never softens without an answer.
func (d *detector) judge(p *peer, now time.Time, witnesses int) verdict {
	v := d.judgeSilence(p, now, witnesses)
	if severity[v.health] < severity[p.verdict] {
		v = verdict{health: p.verdict}
	}
	p.verdict = v.health
	return v
}

var severity = map[string]int{api.HealthAlive: 0, api.HealthSuspect: 1, api.HealthDead: 2}

// judgeSilence is the verdict that the member's silence alone deserves.
func (d *detector) judgeSilence(p *peer, now time.Time, witnesses int) verdict {
	s := d.silence(p, now)
	switch {
	case s < d.suspectAfter():
		return verdict{health: api.HealthAlive, late: s >= d.lateAfter()}
	case s < d.deadAfter():
		return verdict{health: api.HealthSuspect}
	}
	if witnesses == 0 {
		return verdict{health: api.HealthDead}
	}
	if p.asked.IsZero() {
		return verdict{health: api.HealthSuspect, ask: true}
	}
	heard, no := false, 0
	for _, h := range p.answers {
		if h {
			heard = true
		} else {
			no++
		}
	}
	waited := now.Sub(p.asked)
	switch {
	case heard:
		// Another member hears it: this server's view is the odd one.
		// Ask again after a keepalive.
		if waited >= d.k {
			p.asked, p.askedN, p.answers = time.Time{}, 0, nil
		}
		return verdict{health: api.HealthSuspect}
	case no >= p.askedN || waited >= d.askTimeout():
		return verdict{health: api.HealthDead}
	}
	return verdict{health: api.HealthSuspect}
}

// asking records that n members were asked at now.
func (d *detector) asking(p *peer, now time.Time, n int) {
	p.asked, p.askedN, p.answers = now, n, map[string]bool{}
}

// opinion records a second opinion: from hears (or not) the member.
func (p *peer) opinion(from string, hears bool) {
	if p.answers != nil {
		p.answers[from] = hears
	}
}

// hears tells whether this server hears a member well enough to vouch for
// it when asked: it answered within the suspect threshold.
func (d *detector) hears(p *peer, now time.Time) bool {
	return d.silence(p, now) < d.suspectAfter()
}
