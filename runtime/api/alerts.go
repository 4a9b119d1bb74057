package api

import "time"

// Notification is one message of an alert, as a webhook receives it (the
// JSON body), an MQTT subscriber reads it, and a mail tells it in text.
type Notification struct {
	// ID is the idempotency key: the same for every attempt and every
	// master that delivers it (webhook header Idempotency-Key, MQTT and
	// mail carry it too), so a receiver can drop a repeat.
	ID   string    `json:"id"`
	Site string    `json:"site"`
	Time time.Time `json:"time"`
	// Alert is the alert block's name ("" for a test message).
	Alert string `json:"alert"`
	// Status is "firing" (something started or happened), "resolved"
	// (everything it reported ended) or "test".
	Status string `json:"status"`
	// Summary is one line for people.
	Summary string      `json:"summary"`
	Items   []AlertItem `json:"items"`
}

// Notification statuses.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
	AlertTest     = "test"
)

// AlertItem is one condition of a notification.
type AlertItem struct {
	// Condition is one of spec.AlertConditions, e.g. spec.EventServerDead.
	Condition string `json:"condition"`
	Server    string `json:"server,omitempty"`
	Camera    string `json:"camera,omitempty"`
	// State is "started", "ended" (of a lasting condition) or "happened"
	// (a one-off).
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// End is set when State is "ended"; absent from the JSON otherwise.
	End     time.Time `json:"end,omitzero"`
	Message string    `json:"message"`
	// Cameras lists the cameras concerned: those a takeover moved, with
	// the servers now recording them ("cam1 → rec-2").
	Cameras []string `json:"cameras,omitempty"`
}

// Alert item states.
const (
	ItemStarted  = "started"
	ItemEnded    = "ended"
	ItemHappened = "happened"
)

// Webhook headers.
const (
	// SignatureHeader is "sha256=" and the hex HMAC-SHA256 of the body
	// with the notifier's secret.
	SignatureHeader = "X-Vigil-Signature"
	// IdempotencyHeader carries Notification.ID.
	IdempotencyHeader = "Idempotency-Key"
)

// AlertTestResponse is the answer of POST /v1/alerts/test.
type AlertTestResponse struct {
	Notifier string `json:"notifier"`
	// Destination describes where it went (no secrets).
	Destination string `json:"destination"`
	// Answer is what the receiving server answered.
	Answer string `json:"answer"`
}

// AlertTestRequest is the body of POST /v1/alerts/test.
type AlertTestRequest struct {
	Notifier string `json:"notifier"`
}
