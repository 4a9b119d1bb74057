package hcl

import (
	"net"
	"net/mail"
	"net/url"
	"path"
	"slices"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

var (
	notifierSchema = &hhcl.BodySchema{Blocks: []hhcl.BlockHeaderSchema{{Type: "smtp"}, {Type: "webhook"}, {Type: "mqtt"}}}
	smtpSchema     = &hhcl.BodySchema{Attributes: attrs("server", "from", "to", "username", "password")}
	webhookSchema  = &hhcl.BodySchema{Attributes: attrs("url", "secret")}
	mqttSchema     = &hhcl.BodySchema{Attributes: attrs("broker", "topic", "username", "password")}
	alertSchema    = &hhcl.BodySchema{Attributes: attrs("when", "for", "cameras", "servers", "notify")}
)

func (d *decoder) notifier(b *hhcl.Block) *spec.Notifier {
	n := &spec.Notifier{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	for _, blk := range d.content(b, notifierSchema).Blocks {
		if n.Channel() != "" {
			d.errorf(blk.DefRange, "Duplicate channel", "Notifier %q already has a %s block; a notifier has exactly one channel (smtp, webhook or mqtt): declare another notifier.", n.Name, n.Channel())
			continue
		}
		rs := map[string]spec.Range{}
		switch blk.Type {
		case "smtp":
			at := d.content(blk, smtpSchema).Attributes
			m := &spec.SMTPNotifier{Ranges: rs}
			d.str(at, "server", &m.Server, rs)
			d.str(at, "from", &m.From, rs)
			d.list(at, "to", &m.To, rs)
			d.str(at, "username", &m.Username, rs)
			d.strSensitive(at, "password", &m.Password, rs, true)
			n.SMTP = m
		case "webhook":
			at := d.content(blk, webhookSchema).Attributes
			w := &spec.WebhookNotifier{Ranges: rs}
			d.str(at, "url", &w.URL, rs)
			d.strSensitive(at, "secret", &w.Secret, rs, true)
			n.Webhook = w
		case "mqtt":
			at := d.content(blk, mqttSchema).Attributes
			m := &spec.MQTTNotifier{Ranges: rs}
			d.str(at, "broker", &m.Broker, rs)
			d.str(at, "topic", &m.Topic, rs)
			d.str(at, "username", &m.Username, rs)
			d.strSensitive(at, "password", &m.Password, rs, true)
			n.MQTT = m
		}
	}
	return n
}

func (d *decoder) alert(b *hhcl.Block) *spec.Alert {
	a := &spec.Alert{Name: b.Labels[0], DeclRange: specRange(b.DefRange), Ranges: newRanges(b)}
	at := d.content(b, alertSchema).Attributes
	d.list(at, "when", &a.When, a.Ranges)
	d.duration(at, "for", &a.For, a.Ranges)
	d.list(at, "cameras", &a.Cameras, a.Ranges)
	d.list(at, "servers", &a.Servers, a.Ranges)
	d.list(at, "notify", &a.Notify, a.Ranges)
	return a
}

// alerting validates a site's notifiers and alerts.
func (v *validator) alerting(s *spec.Site, scope string) {
	var names []string
	seen := map[string]*spec.Notifier{}
	for _, n := range s.Notifiers {
		v.name("notifier", n.Name, n.Ranges, n.DeclRange)
		if prev, ok := seen[n.Name]; ok {
			v.duplicate("notifier", n.Name, scope, n.DeclRange, prev.DeclRange)
			continue
		}
		seen[n.Name] = n
		names = append(names, n.Name)
		v.notifier(n)
	}
	alerts := map[string]*spec.Alert{}
	var conditions []string
	for c := range spec.AlertConditions {
		conditions = append(conditions, c)
	}
	slices.Sort(conditions)
	for _, a := range s.Alerts {
		v.name("alert", a.Name, a.Ranges, a.DeclRange)
		if prev, ok := alerts[a.Name]; ok {
			v.duplicate("alert", a.Name, scope, a.DeclRange, prev.DeclRange)
			continue
		}
		alerts[a.Name] = a
		if len(a.When) == 0 {
			v.errorf(at(nil, "", a.DeclRange), "Missing conditions", "Alert %q needs when: the conditions that send it, such as [\"server.dead\", \"takeover\"].", a.Name)
		}
		for i, c := range a.When {
			if _, ok := spec.AlertConditions[c]; !ok {
				v.errorf(atElem(a.Ranges, "when", i, a.DeclRange), "Unknown condition", "Alert %q: %q is not a condition.%s",
					a.Name, c, didYouMean(c, "conditions", "an alert", conditions))
			}
		}
		if a.For < 0 || a.For > spec.MaxAlertFor {
			v.errorf(at(a.Ranges, "for", a.DeclRange), "Value out of range", "for must be between 0s and %s; it is %s.", spec.FormatDuration(spec.MaxAlertFor), spec.FormatDuration(a.For))
		}
		for _, list := range []struct {
			key      string
			patterns []string
		}{{"cameras", a.Cameras}, {"servers", a.Servers}} {
			for i, p := range list.patterns {
				if _, err := path.Match(p, ""); err != nil || p == "" {
					v.errorf(atElem(a.Ranges, list.key, i, a.DeclRange), "Invalid pattern", "Alert %q: %q is not a name or glob pattern such as \"door-*\".", a.Name, p)
				}
			}
		}
		if len(a.Notify) == 0 {
			v.errorf(at(nil, "", a.DeclRange), "Missing notifiers", "Alert %q needs notify: the notifiers it sends to.%s", a.Name, didYouMean("", "notifiers", scope, names))
		}
		for i, n := range a.Notify {
			if seen[n] == nil {
				v.errorf(atElem(a.Ranges, "notify", i, a.DeclRange), "Unknown notifier", "Alert %q notifies %q, but %s has no notifier by that name.%s",
					a.Name, n, scope, didYouMean(n, "notifiers", scope, names))
			}
		}
	}
}

func (v *validator) notifier(n *spec.Notifier) {
	switch {
	case n.SMTP != nil:
		m, rs := n.SMTP, n.SMTP.Ranges
		if _, port, err := net.SplitHostPort(m.Server); err != nil || port == "" {
			v.errorf(at(rs, "server", n.DeclRange), "Invalid mail server", "Notifier %q: server must be host:port, such as \"mail.example.com:587\"; it is %q.", n.Name, m.Server)
		}
		if _, err := mail.ParseAddress(m.From); err != nil {
			v.errorf(at(rs, "from", n.DeclRange), "Invalid address", "Notifier %q: from %q is not a mail address.", n.Name, m.From)
		}
		if len(m.To) == 0 {
			v.errorf(at(rs, "to", n.DeclRange), "Missing recipients", "Notifier %q: to must list at least one mail address.", n.Name)
		}
		for i, to := range m.To {
			if _, err := mail.ParseAddress(to); err != nil {
				v.errorf(atElem(rs, "to", i, n.DeclRange), "Invalid address", "Notifier %q: %q is not a mail address.", n.Name, to)
			}
		}
		if m.Password != "" && m.Username == "" {
			v.errorf(at(rs, "password", n.DeclRange), "Password without username", "Notifier %q: set username too, or no password.", n.Name)
		}
	case n.Webhook != nil:
		u, err := url.Parse(n.Webhook.URL)
		if n.Webhook.URL == "" && given(n.Webhook.Ranges, "url") {
			break // it failed to decode, as reported
		}
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			v.errorf(at(n.Webhook.Ranges, "url", n.DeclRange), "Invalid webhook URL", "Notifier %q: url must be an http:// or https:// URL; it is %q.", n.Name, n.Webhook.URL)
		}
	case n.MQTT != nil:
		m := n.MQTT
		u, err := url.Parse(m.Broker)
		if err != nil || !slices.Contains([]string{"tcp", "ssl", "tls", "ws", "wss", "mqtt", "mqtts"}, u.Scheme) || u.Port() == "" {
			v.errorf(at(m.Ranges, "broker", n.DeclRange), "Invalid broker", "Notifier %q: broker must be a URL with a port, such as \"tcp://10.0.0.5:1883\"; it is %q.", n.Name, m.Broker)
		}
		if m.Topic == "" || strings.ContainsAny(m.Topic, "+#\x00") {
			v.errorf(at(m.Ranges, "topic", n.DeclRange), "Invalid topic", "Notifier %q: topic must be a topic name without wildcards (+, #), such as \"vigil/hq\"; it is %q.", n.Name, m.Topic)
		}
		if m.Password != "" && m.Username == "" {
			v.errorf(at(m.Ranges, "password", n.DeclRange), "Password without username", "Notifier %q: set username too, or no password.", n.Name)
		}
	default:
		v.errorf(at(nil, "", n.DeclRange), "Missing channel", "Notifier %q needs one channel block: smtp, webhook or mqtt.", n.Name)
	}
}

// shared decodes the top-level notifier, alert, user and token blocks into
// site s, after its own: each site gets its own copy.
func (d *decoder) shared(s *spec.Site, blocks []*hhcl.Block) {
	for _, b := range blocks {
		switch b.Type {
		case "notifier":
			s.Notifiers = append(s.Notifiers, d.notifier(b))
		case "alert":
			s.Alerts = append(s.Alerts, d.alert(b))
		case "user":
			s.Users = append(s.Users, d.user(b))
		case "token":
			s.Tokens = append(s.Tokens, d.token(b))
		}
	}
}
