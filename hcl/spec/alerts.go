package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Notifier is where alert notifications go: exactly one of SMTP, Webhook
// and MQTT. A notifier block may sit in a site or at the top level, where
// it belongs to every site of the configuration.
type Notifier struct {
	Name    string           `json:"name"`
	SMTP    *SMTPNotifier    `json:"smtp,omitempty"`
	Webhook *WebhookNotifier `json:"webhook,omitempty"`
	MQTT    *MQTTNotifier    `json:"mqtt,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// SMTPNotifier sends mail. STARTTLS is used when the server offers it and
// required when a username is set (except on loopback).
type SMTPNotifier struct {
	Server   string   `json:"server"` // host:port
	From     string   `json:"from"`
	To       []string `json:"to"`
	Username string   `json:"username,omitempty"`
	// Password is sensitive (see Camera.Password).
	Password string `json:"password,omitempty"`

	Ranges map[string]Range `json:"-"`
}

// WebhookNotifier POSTs the notification as JSON.
type WebhookNotifier struct {
	URL string `json:"url"`
	// Secret is sensitive: the body's HMAC-SHA256 with it is sent in the
	// X-Vigil-Signature header.
	Secret string `json:"secret,omitempty"`

	Ranges map[string]Range `json:"-"`
}

// MQTTNotifier publishes the notification as JSON, retained.
type MQTTNotifier struct {
	Broker   string `json:"broker"` // tcp://host:port, ssl://, ws://, wss://
	Topic    string `json:"topic"`
	Username string `json:"username,omitempty"`
	// Password is sensitive.
	Password string `json:"password,omitempty"`

	Ranges map[string]Range `json:"-"`
}

// Channel names the kind of notifier: "smtp", "webhook" or "mqtt".
func (n *Notifier) Channel() string {
	switch {
	case n.SMTP != nil:
		return "smtp"
	case n.Webhook != nil:
		return "webhook"
	case n.MQTT != nil:
		return "mqtt"
	}
	return ""
}

// Alert says which conditions, lasting how long, notify whom.
type Alert struct {
	Name string `json:"name"`
	// When lists conditions (AlertConditions).
	When []string `json:"when"`
	// For: a condition must last this long before it notifies; 0 notifies at once.
	For time.Duration `json:"for"`
	// Cameras and Servers select the subjects by name or glob pattern;
	// empty means all.
	Cameras []string `json:"cameras,omitempty"`
	Servers []string `json:"servers,omitempty"`
	// Notify names notifiers of the site.
	Notify []string `json:"notify"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// ConditionTakeover in an alert's `when` stands for EventTakeoverStarted
// and EventTakeoverFinished.
const ConditionTakeover = "takeover"

// AlertConditions are the values of an alert's `when`, with what they mean.
// Lasting conditions send a message when they start (after `for`) and a
// resolved message when they end; the others are one-off.
var AlertConditions = map[string]string{
	EventServerDead:        "a server of the site is dead (lasting; resolved when it is back)",
	EventServerBack:        "a dead server is back (one-off)",
	ConditionTakeover:      "takeover.started and takeover.finished",
	EventTakeoverStarted:   "a dead server's cameras are recorded by others, listing them (lasting; resolved when they are back on their server)",
	EventTakeoverFinished:  "a server's cameras went back to it after a takeover (one-off)",
	EventCameraUnreachable: "a camera's stream cannot be received by the server that should record it (lasting)",
	EventCameraStalled:     "a camera's stream stopped delivering frames (lasting)",
	EventGapOpen:           "a camera is not recorded anywhere in the site (lasting)",
	EventStorageFull:       "a server's storage is full (lasting)",
	EventStorageFloor:      "a server's storage is under its free-space floor (lasting)",
	EventStorageRetention:  "a server's storage had to delete recordings younger than its max_age for room (lasting)",
	EventClockSkew:         "a server's clock is off the master's by more than 1s (lasting)",
	EventConfigInvalid:     "a changed configuration (hot reload) is invalid (one-off)",
	EventConfigApplied:     "a configuration change was committed (one-off)",
}

// Notifier returns the named notifier of the site, or nil.
func (s *Site) Notifier(name string) *Notifier {
	for _, n := range s.Notifiers {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Matches tells whether the alert covers a condition (server, camera).
func (a *Alert) Matches(condition, server, camera string) bool {
	ok := slices.Contains(a.When, condition) ||
		strings.HasPrefix(condition, ConditionTakeover+".") && slices.Contains(a.When, ConditionTakeover)
	return ok && globsMatch(a.Servers, server) && globsMatch(a.Cameras, camera)
}

// globsMatch: an empty list or an empty name matches.
func globsMatch(patterns []string, name string) bool {
	if len(patterns) == 0 || name == "" {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// MaxAlertFor bounds an alert's `for`.
const MaxAlertFor = 24 * time.Hour

// redactAlerting fingerprints the notifiers' secrets (see Site.Redacted).
func redactAlerting(s *Site, fp Fingerprinter) {
	for _, n := range s.Notifiers {
		for _, p := range n.Secrets() {
			*p = fp(*p)
		}
	}
}

// Secrets returns pointers to the notifier's secret fields, for code that
// must keep or hide them (the agent puts committed secrets back where a
// spec carries fingerprints).
func (n *Notifier) Secrets() []*string {
	switch {
	case n.SMTP != nil:
		return []*string{&n.SMTP.Password}
	case n.Webhook != nil:
		return []*string{&n.Webhook.Secret}
	case n.MQTT != nil:
		return []*string{&n.MQTT.Password}
	}
	return nil
}

func copyAlertRanges(from, to *Site) {
	for i, n := range from.Notifiers {
		t := to.Notifiers[i]
		t.DeclRange, t.Ranges = n.DeclRange, n.Ranges
		switch {
		case n.SMTP != nil:
			t.SMTP.Ranges = n.SMTP.Ranges
		case n.Webhook != nil:
			t.Webhook.Ranges = n.Webhook.Ranges
		case n.MQTT != nil:
			t.MQTT.Ranges = n.MQTT.Ranges
		}
	}
	for i, a := range from.Alerts {
		to.Alerts[i].DeclRange, to.Alerts[i].Ranges = a.DeclRange, a.Ranges
	}
}

// String is the notifier's destination for people: no secrets.
func (n *Notifier) String() string {
	switch {
	case n.SMTP != nil:
		return fmt.Sprintf("mail to %s via %s", strings.Join(n.SMTP.To, ", "), n.SMTP.Server)
	case n.Webhook != nil:
		return "webhook " + n.Webhook.URL
	case n.MQTT != nil:
		return fmt.Sprintf("MQTT %s topic %s", n.MQTT.Broker, n.MQTT.Topic)
	}
	return "nothing"
}
