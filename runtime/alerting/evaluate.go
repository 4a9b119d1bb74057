package alerting

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/cluster"
)

// DefaultGroupWait is how long an alert collects what it has to tell
// before it sends one message.
const DefaultGroupWait = time.Second

// endOf maps a lasting condition to the one-off condition that tells its end.
var endOf = map[string]string{spec.EventServerDead: spec.EventServerBack, spec.EventTakeoverStarted: spec.EventTakeoverFinished}

// Evaluator decides what to notify. It runs on the master; its memory is
// only timing (when an end or a one-off was first seen), so a new master
// starts a fresh one and loses nothing but a GroupWait.
type Evaluator struct {
	Site      string
	GroupWait time.Duration

	ended   map[string]time.Time // incident key → when first seen ended
	oneOffs map[string][]api.AlertItem
	// carried is how many of each alert's one-offs the last Step put in
	// its commit; they are forgotten only once Committed says it landed.
	carried map[string]int
}

// NewEvaluator returns an Evaluator for a site.
func NewEvaluator(site string) *Evaluator {
	return &Evaluator{Site: site, GroupWait: DefaultGroupWait, ended: map[string]time.Time{}, oneOffs: map[string][]api.AlertItem{}, carried: map[string]int{}}
}

// Happened queues a one-off item (config.applied, config.invalid) for the
// alerts of spec that want it.
func (e *Evaluator) Happened(spec *spec.Site, it api.AlertItem) {
	it.State = api.ItemHappened
	for _, a := range spec.Alerts {
		if a.Matches(it.Condition, it.Server, it.Camera) {
			e.oneOffs[a.Name] = append(e.oneOffs[a.Name], it)
		}
	}
}

// tracks tells whether alert a follows lasting condition c: it lists it or
// its end.
func tracks(a *spec.Alert, c api.AlertItem) bool {
	return a.Matches(c.Condition, c.Server, c.Camera) || endOf[c.Condition] != "" && a.Matches(endOf[c.Condition], c.Server, c.Camera)
}

func incidentKey(alert string, c api.AlertItem) string {
	return alert + "/" + c.Condition + "/" + c.Server + "/" + c.Camera
}

// pending is what one alert has to tell.
type pending struct {
	started []cluster.Incident
	ended   []string
	items   []api.AlertItem
	due     time.Time // when the first of it became due
}

// Step compares the site's lasting conditions with the incidents already
// told (the replicated state) and returns what to commit: incidents started
// and ended, and one notification per alert whose first news is GroupWait
// old, to each notifier of the alert. An empty commit means nothing to do.
func (e *Evaluator) Step(spec *spec.Site, conds []api.AlertItem, told map[string]cluster.Incident, now time.Time) cluster.AlertCommit {
	clear(e.carried) // a Step not followed by Committed: carried again
	byAlert := map[string]*pending{}
	get := func(name string) *pending {
		if byAlert[name] == nil {
			byAlert[name] = &pending{}
		}
		return byAlert[name]
	}
	note := func(p *pending, due time.Time) {
		if p.due.IsZero() || due.Before(p.due) {
			p.due = due
		}
	}
	active := map[string]bool{}
	// notYet are the incidents not due yet, per alert: they join a message
	// that tells of the same subject (one failure, one message).
	notYet := map[string][]cluster.Incident{}
	for _, a := range spec.Alerts {
		for _, c := range conds {
			if !tracks(a, c) {
				continue
			}
			key := incidentKey(a.Name, c)
			active[key] = true
			delete(e.ended, key)
			if _, ok := told[key]; ok {
				continue
			}
			if now.Sub(c.Since) < a.For {
				c.State = api.ItemStarted
				notYet[a.Name] = append(notYet[a.Name], cluster.Incident{Key: key, Alert: a.Name, Item: c})
				continue
			}
			c.State = api.ItemStarted
			p := get(a.Name)
			p.started = append(p.started, cluster.Incident{Key: key, Alert: a.Name, Item: c})
			if a.Matches(c.Condition, c.Server, c.Camera) {
				p.items = append(p.items, c)
			}
			note(p, c.Since.Add(a.For))
		}
	}
	var commit cluster.AlertCommit
	for _, key := range slices.Sorted(maps.Keys(told)) {
		in := told[key]
		if active[key] {
			continue
		}
		a := alertNamed(spec, in.Alert)
		if a == nil {
			commit.Ended = append(commit.Ended, key) // the alert was removed: nothing to tell
			continue
		}
		first, ok := e.ended[key]
		if !ok {
			first = now
			e.ended[key] = now
		}
		p := get(a.Name)
		p.ended = append(p.ended, key)
		it := in.Item
		it.State, it.End = api.ItemEnded, first
		it.Message = endMessage(it)
		if end := endOf[it.Condition]; end != "" && a.Matches(end, it.Server, it.Camera) {
			it.Condition = end
			p.items = append(p.items, it)
		} else if a.Matches(it.Condition, it.Server, it.Camera) {
			p.items = append(p.items, it)
		}
		note(p, first)
	}
	for name, items := range e.oneOffs {
		if alertNamed(spec, name) == nil {
			delete(e.oneOffs, name)
			continue
		}
		p := get(name)
		p.items = append(p.items, items...)
		for _, it := range items {
			note(p, it.Since)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byAlert)) {
		p := byAlert[name]
		if now.Sub(p.due) < e.GroupWait {
			continue
		}
		p.join(notYet[name], alertNamed(spec, name))
		commit.Started = append(commit.Started, p.started...)
		commit.Ended = append(commit.Ended, p.ended...)
		for _, k := range p.ended {
			delete(e.ended, k)
		}
		if n := len(e.oneOffs[name]); n > 0 {
			e.carried[name] = n
		}
		if len(p.items) == 0 {
			continue
		}
		n := e.notification(name, p.items, now)
		commit.Send = append(commit.Send, cluster.Outgoing{Notification: n, Pending: slices.Clone(alertNamed(spec, name).Notify)})
	}
	return commit
}

// Committed tells that the commit of the last Step is in the replicated
// state: the one-offs it carried are told. Until then every Step carries
// them again, so a commit that fails (a raft timeout on a busy master)
// loses no one-off; at worst one that did land is told twice.
func (e *Evaluator) Committed() {
	for name, n := range e.carried {
		if rest := e.oneOffs[name][n:]; len(rest) > 0 {
			e.oneOffs[name] = rest
		} else {
			delete(e.oneOffs, name)
		}
	}
	clear(e.carried)
}

// join adds the incidents of ins whose subject is one p tells of already.
func (p *pending) join(ins []cluster.Incident, a *spec.Alert) {
	subjects := map[string]bool{}
	for _, in := range p.started {
		subjects[subject(in.Item)] = true
	}
	for _, in := range ins {
		if !subjects[subject(in.Item)] {
			continue
		}
		p.started = append(p.started, in)
		if a.Matches(in.Item.Condition, in.Item.Server, in.Item.Camera) {
			p.items = append(p.items, in.Item)
		}
	}
}

// subject is what an item is about: its camera, else its server.
func subject(it api.AlertItem) string {
	if it.Camera != "" {
		return "camera/" + it.Camera
	}
	return "server/" + it.Server
}

func alertNamed(spec *spec.Site, name string) *spec.Alert {
	for _, a := range spec.Alerts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func endMessage(it api.AlertItem) string {
	d := it.End.Sub(it.Since).Round(time.Second)
	switch it.Condition {
	case spec.EventServerDead:
		return fmt.Sprintf("server %s is back after %s", it.Server, d)
	case spec.EventTakeoverStarted:
		return fmt.Sprintf("the cameras of %s are back on it after %s", it.Server, d)
	}
	return fmt.Sprintf("ended after %s: %s", d, it.Message)
}

// notification builds one message of an alert.
func (e *Evaluator) notification(alert string, items []api.AlertItem, now time.Time) api.Notification {
	status := api.AlertResolved
	for _, it := range items {
		if it.State != api.ItemEnded {
			status = api.AlertFiring
		}
	}
	return api.Notification{ID: NewID(), Site: e.Site, Time: now, Alert: alert, Status: status, Summary: summary(items), Items: items}
}

// summary says in one line what items tell.
func summary(items []api.AlertItem) string {
	var parts []string
	cameras := map[string][]string{} // condition → cameras
	var order []string
	for _, it := range items {
		if it.Camera != "" && it.State != api.ItemHappened {
			key := it.Condition + " " + it.State
			if cameras[key] == nil {
				order = append(order, key)
			}
			cameras[key] = append(cameras[key], it.Camera)
			continue
		}
		parts = append(parts, it.Message)
	}
	for _, key := range order {
		cams := cameras[key]
		cond, state, _ := strings.Cut(key, " ")
		parts = append(parts, fmt.Sprintf("%s %s: %s", cond, state, strings.Join(cams, ", ")))
	}
	return strings.Join(parts, "; ")
}

// NewID returns a new idempotency key.
func NewID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
