package access

import (
	"net"
	"slices"
	"sync"
	"time"
)

// Failed logins are slowed, never locked out: after a few failures each
// further attempt must wait a delay that doubles with every failure, up to a
// cap, and the count is forgotten after an hour without failures.
//
// Two counts apply. Per address (an IPv4 address, an IPv6 /64): every
// failure from there, for any user name. Per user: failures for that user
// from addresses it has not logged in from; an address from which the user
// logged in within trustFor is not slowed by the user's count, so an
// attacker guessing a user's password from elsewhere cannot keep the real
// user out. A new address waits at most userMaxDelay.
const (
	addrFree     = 5
	addrMaxDelay = 5 * time.Minute
	userFree     = 10
	userMaxDelay = time.Minute
	forgetAfter  = time.Hour
	trustFor     = 30 * 24 * time.Hour
	maxTrusted   = 32      // addresses remembered per user
	maxAddresses = 100_000 // address counts kept before the oldest are dropped
)

// strikes counts the failures of one address or user.
type strikes struct {
	n int
	// next is when the next attempt may be checked.
	next time.Time
	last time.Time // the last failure
}

// delay is how long an attempt must wait after n failures: nothing for the
// first free ones, then 1 s, 2 s, 4 s … up to max.
func delay(n, free int, max time.Duration) time.Duration {
	if n < free {
		return 0
	}
	if shift := n - free; shift < 30 {
		if d := time.Second << shift; d < max {
			return d
		}
	}
	return max
}

type userStrikes struct {
	strikes
	trusted map[string]time.Time // address → last login from it
}

// guard is the failed-login bookkeeping of a Sessions.
type guard struct {
	mu    sync.Mutex
	addrs map[string]*strikes
	users map[string]*userStrikes
}

func newGuard() *guard {
	return &guard{addrs: map[string]*strikes{}, users: map[string]*userStrikes{}}
}

// addressKey is the address an attempt is counted under: the IP of
// RemoteAddr, an IPv6 address's /64 (one subscriber's network).
func addressKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// admit says how long an attempt of user (a declared user's name, or "")
// from addr must still wait; when it need not, the attempt is let through
// and the next one from there waits for its outcome's delay.
func (g *guard) admit(user, addr string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, u, wait := g.pending(user, addr, now)
	if wait > 0 {
		return wait
	}
	// Hold the next attempt back by the current delay until this one is
	// decided, so that parallel attempts do not all pass.
	a.next = now.Add(delay(a.n, addrFree, addrMaxDelay))
	if u != nil {
		u.next = now.Add(delay(u.n, userFree, userMaxDelay))
	}
	return 0
}

// wait is how long the next attempt of user from addr must wait.
func (g *guard) wait(user, addr string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, _, wait := g.pending(user, addr, now)
	return max(wait, 0)
}

// pending returns the counts an attempt of user from addr is subject to
// (u is nil when user is "" or trusts addr) and how long it must wait.
func (g *guard) pending(user, addr string, now time.Time) (a *strikes, u *userStrikes, wait time.Duration) {
	a = g.addr(addr, now)
	wait = a.next.Sub(now)
	if user != "" && !g.trusted(user, addr, now) {
		u = g.user(user, now)
		wait = max(wait, u.next.Sub(now))
	}
	return a, u, wait
}

// failed counts a failed attempt of user ("" for a name that is no user)
// from addr.
func (g *guard) failed(user, addr string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, u, _ := g.pending(user, addr, now)
	a.n++
	a.last, a.next = now, now.Add(delay(a.n, addrFree, addrMaxDelay))
	if u != nil {
		u.n++
		u.last, u.next = now, now.Add(delay(u.n, userFree, userMaxDelay))
	}
}

// succeeded remembers that user logged in from addr. The delays stay those
// of the failures so far: a login to an account of one's own must not let
// the next guess through sooner.
func (g *guard) succeeded(user, addr string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.addr(addr, now)
	a.next = a.last.Add(delay(a.n, addrFree, addrMaxDelay))
	u := g.user(user, now)
	u.next = u.last.Add(delay(u.n, userFree, userMaxDelay))
	if _, ok := u.trusted[addr]; !ok && len(u.trusted) >= maxTrusted {
		oldest := ""
		for a, t := range u.trusted {
			if oldest == "" || t.Before(u.trusted[oldest]) {
				oldest = a
			}
		}
		delete(u.trusted, oldest)
	}
	u.trusted[addr] = now
}

func (g *guard) trusted(user, addr string, now time.Time) bool {
	u, ok := g.users[user]
	if !ok {
		return false
	}
	t, ok := u.trusted[addr]
	return ok && now.Sub(t) < trustFor
}

// addr returns addr's count, forgotten after forgetAfter without failures.
func (g *guard) addr(addr string, now time.Time) *strikes {
	s, ok := g.addrs[addr]
	if !ok {
		if len(g.addrs) >= maxAddresses {
			g.sweep(now)
		}
		s = &strikes{}
		g.addrs[addr] = s
	}
	if s.n > 0 && now.Sub(s.last) > forgetAfter {
		*s = strikes{}
	}
	return s
}

func (g *guard) user(name string, now time.Time) *userStrikes {
	u, ok := g.users[name]
	if !ok {
		u = &userStrikes{trusted: map[string]time.Time{}}
		g.users[name] = u
	}
	if u.n > 0 && now.Sub(u.last) > forgetAfter {
		u.strikes = strikes{}
	}
	return u
}

// sweep drops the address counts that are forgotten anyway and, if that is
// not enough, the half that failed longest ago, so that attempts from ever
// new addresses cannot fill the memory.
func (g *guard) sweep(now time.Time) {
	for a, s := range g.addrs {
		if now.Sub(s.last) > forgetAfter && !s.next.After(now) {
			delete(g.addrs, a)
		}
	}
	if len(g.addrs) < maxAddresses/2 {
		return
	}
	lasts := make([]time.Time, 0, len(g.addrs))
	for _, s := range g.addrs {
		lasts = append(lasts, s.last)
	}
	slices.SortFunc(lasts, time.Time.Compare)
	cut := lasts[len(lasts)/2]
	for a, s := range g.addrs {
		if !s.last.After(cut) {
			delete(g.addrs, a)
		}
	}
}
