package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// SendTimeout bounds one delivery attempt when ctx has no deadline.
const SendTimeout = 10 * time.Second

// Send delivers n to the notifier and returns what the receiving server
// answered. It never takes longer than ctx allows (SendTimeout without a
// deadline).
func Send(ctx context.Context, nf *spec.Notifier, n api.Notification) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, SendTimeout)
		defer cancel()
	}
	body, err := json.Marshal(n)
	if err != nil {
		return "", err
	}
	switch {
	case nf.Webhook != nil:
		return sendWebhook(ctx, nf.Webhook, n.ID, body)
	case nf.SMTP != nil:
		return sendMail(ctx, nf.SMTP, n)
	case nf.MQTT != nil:
		return publishMQTT(ctx, nf.MQTT, n, body)
	}
	return "", fmt.Errorf("notifier %s has no channel", nf.Name)
}

// Sign is the value of api.SignatureHeader for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func sendWebhook(ctx context.Context, w *spec.WebhookNotifier, id string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil")
	req.Header.Set(api.IdempotencyHeader, id)
	if w.Secret != "" {
		req.Header.Set(api.SignatureHeader, Sign(w.Secret, body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	answer := resp.Status
	if t := strings.TrimSpace(string(b)); t != "" {
		answer += ": " + t
	}
	if resp.StatusCode/100 != 2 {
		return answer, fmt.Errorf("the webhook answered %s", answer)
	}
	return answer, nil
}

// sendMail speaks SMTP: STARTTLS when offered (required with a username,
// except on loopback, by net/smtp's PLAIN auth), and returns the server's
// reply to the message.
func sendMail(ctx context.Context, m *spec.SMTPNotifier, n api.Notification) (string, error) {
	host, _, err := net.SplitHostPort(m.Server)
	if err != nil {
		return "", err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Server)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.Hello("vigil"); err != nil {
		return "", err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return "", err
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return "", err
		}
	}
	if err := c.Mail(m.From); err != nil {
		return "", err
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return "", err
		}
	}
	// DATA by hand, to read the server's answer to the message.
	id, err := c.Text.Cmd("DATA")
	if err != nil {
		return "", err
	}
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(354)
	c.Text.EndResponse(id)
	if err != nil {
		return "", err
	}
	dw := c.Text.DotWriter()
	dw.Write(mailMessage(m, n))
	if err := dw.Close(); err != nil {
		return "", err
	}
	code, msg, err := c.Text.ReadResponse(250)
	if err != nil {
		return "", err
	}
	c.Quit()
	return fmt.Sprintf("%d %s", code, msg), nil
}

// mailMessage is the message: headers (the notification's ID in
// Message-ID, so a repeat is recognisable) and a plain-text body.
func mailMessage(m *spec.SMTPNotifier, n api.Notification) []byte {
	var b bytes.Buffer
	subject := fmt.Sprintf("[vigil %s] %s %s: %s", n.Site, strings.ToUpper(n.Status), n.Alert, n.Summary)
	if len(subject) > 200 {
		subject = subject[:197] + "..."
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@vigil.%s>\r\n",
		m.From, strings.Join(m.To, ", "), mime.QEncoding.Encode("utf-8", subject), n.Time.Format(time.RFC1123Z), n.ID, n.Site)
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Vigil-Alert: %s\r\nX-Vigil-Status: %s\r\n\r\n", n.Alert, n.Status)
	b.WriteString(Text(n))
	return b.Bytes()
}

// Text is the notification for people: the summary, then one paragraph
// per item.
func Text(n api.Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Site %s, alert %s: %s\r\n%s\r\n", n.Site, n.Alert, strings.ToUpper(n.Status), n.Summary)
	for _, it := range n.Items {
		fmt.Fprintf(&b, "\r\n- %s %s", it.Condition, it.State)
		if it.Server != "" {
			fmt.Fprintf(&b, ", server %s", it.Server)
		}
		if it.Camera != "" {
			fmt.Fprintf(&b, ", camera %s", it.Camera)
		}
		fmt.Fprintf(&b, ", since %s", it.Since.UTC().Format(time.RFC3339))
		if !it.End.IsZero() {
			fmt.Fprintf(&b, ", until %s", it.End.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(&b, "\r\n  %s\r\n", it.Message)
		for _, c := range it.Cameras {
			fmt.Fprintf(&b, "  %s\r\n", c)
		}
	}
	fmt.Fprintf(&b, "\r\nNotification %s, %s\r\n", n.ID, n.Time.UTC().Format(time.RFC3339))
	return b.String()
}

// publishMQTT publishes the notification with QoS 1, retained, so that a
// subscriber that connects later still reads the latest; a repeat carries
// the same id.
func publishMQTT(ctx context.Context, m *spec.MQTTNotifier, n api.Notification, body []byte) (string, error) {
	opts := mqtt.NewClientOptions().AddBroker(m.Broker).SetClientID("vigil-" + n.Site + "-" + NewID()[:8]).
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true)
	if dl, ok := ctx.Deadline(); ok {
		opts.SetConnectTimeout(time.Until(dl)).SetWriteTimeout(time.Until(dl))
	}
	if m.Username != "" {
		opts.SetUsername(m.Username).SetPassword(m.Password)
	}
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		return "", fmt.Errorf("connecting to %s: %w", m.Broker, err)
	}
	defer c.Disconnect(250)
	if err := wait(ctx, c.Publish(m.Topic, 1, true, body)); err != nil {
		return "", fmt.Errorf("publishing to %s: %w", m.Topic, err)
	}
	return fmt.Sprintf("the broker %s acknowledged the message on %s (QoS 1, retained)", m.Broker, m.Topic), nil
}

func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return errors.New("no answer: " + ctx.Err().Error())
	}
}
