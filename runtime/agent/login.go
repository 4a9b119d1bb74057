package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// login is the console's login (access.Sessions) on this agent: its users
// are the committed spec's user blocks, its tokens the spec's token blocks
// and the agent's own token, and failed logins are reported by
// loginFailed.
type login struct {
	sessions *access.Sessions
	failures *prometheus.CounterVec
	// gate lets one auth.login_failed event through a minute: a password
	// guesser must not fill the log and the event backlog.
	gate minuteGate
}

func (a *Agent) newLogin() *login {
	l := &login{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_login_failures_total", Help: "Refused console logins by reason (wrong password, unknown user, too many failed logins).",
		}, []string{"reason"}),
	}
	l.sessions = access.NewSessions(specUsers{a}, access.SessionOptions{OnFailure: a.loginFailed})
	a.reg.MustRegister(l.failures, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_console_sessions", Help: "Console sessions this agent keeps (logged-in users; expired ones until noticed).",
	}, func() float64 { return float64(l.sessions.Count()) }))
	return l
}

// sweepEvery is how often the agent ends expired sessions and those of
// removed users (and their open streams).
const sweepEvery = 10 * time.Second

func (l *login) sweepLoop(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sessions.Sweep()
		}
	}
}

// loginFailed reports a refused login: the one place every failed login
// passes (metric, audit entry, event and log).
func (a *Agent) loginFailed(f access.LoginFailure) {
	a.login.failures.WithLabelValues(f.Reason).Inc()
	e := api.AuditEntry{Time: f.Time, Kind: api.AuditLoginFailed, User: f.User, Address: f.Address, Detail: "console login: " + f.Reason}
	if f.User != "" {
		e.UserKind = "user"
	}
	a.audit.record(e)
	pass, n := a.login.gate.pass()
	if !pass {
		return
	}
	who := "a name that is no user"
	switch {
	case f.User != "":
		who = f.User
	case f.Reason == access.FailedToken:
		who = "a token"
	}
	msg := fmt.Sprintf("failed login as %s from %s: %s", who, f.Address, f.Reason)
	if f.Reason == access.FailedThrottled {
		msg = fmt.Sprintf("login as %s from %s refused: too many failed logins", who, f.Address)
	}
	if f.Wait > 0 {
		msg += fmt.Sprintf("; the next attempt waits %s", f.Wait.Round(time.Second))
	}
	a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAuthLoginFailed, Message: msg + andMore(n)})
}

// specUsers are the users of the committed spec (access.Users).
type specUsers struct{ a *Agent }

func (u specUsers) User(name string) (access.User, bool) {
	u.a.mu.Lock()
	spec := u.a.view.spec()
	u.a.mu.Unlock()
	if spec == nil {
		return access.User{}, false
	}
	su := spec.User(name)
	if su == nil {
		return access.User{}, false
	}
	return access.User{Name: su.Name, Kind: "user", Role: access.Role(su.Role), Cameras: su.Cameras, PasswordHash: su.PasswordHash}, true
}

// Token is the agent's own token (an admin) or a token block of the
// committed spec; the metrics token and the site's peer credential do
// not log in.
func (u specUsers) Token(tok string) (access.User, bool) {
	if u.a.cfg.checkToken(tok) {
		return u.NamedToken(agentTokenName)
	}
	if t := u.a.specToken(tok); t != nil {
		return tokenUser(t), true
	}
	return access.User{}, false
}

func (u specUsers) NamedToken(name string) (access.User, bool) {
	if name == agentTokenName {
		if u.a.cfg.Token == "" {
			return access.User{}, false
		}
		return access.User{Name: agentTokenName, Kind: "token", Role: access.Admin, PasswordHash: access.HashToken(u.a.cfg.Token)}, true
	}
	u.a.mu.Lock()
	spec := u.a.view.spec()
	u.a.mu.Unlock()
	if spec == nil || spec.Token(name) == nil {
		return access.User{}, false
	}
	return tokenUser(spec.Token(name)), true
}

// tokenUser is a token block as a login's identity.
func tokenUser(t *spec.Token) access.User {
	return access.User{Name: t.Name, Kind: "token", Role: access.Role(t.Role), Cameras: t.Cameras, PasswordHash: t.Hash}
}

func (u specUsers) Any() bool {
	u.a.mu.Lock()
	defer u.a.mu.Unlock()
	spec := u.a.view.spec()
	return spec != nil && len(spec.Users) > 0
}
