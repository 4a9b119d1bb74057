package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

func testNotification() api.Notification {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	return api.Notification{ID: "0123456789abcdef01234567", Site: "hq", Time: t0.Add(3 * time.Second), Alert: "failover", Status: api.AlertFiring,
		Summary: "server rec-1 is dead; 2 cameras of rec-1 are recorded by other servers",
		Items: []api.AlertItem{
			{Condition: "server.dead", Server: "rec-1", State: api.ItemStarted, Since: t0, Message: "server rec-1 is dead"},
			{Condition: "takeover.started", Server: "rec-1", State: api.ItemStarted, Since: t0, Message: "2 cameras of rec-1 are recorded by other servers",
				Cameras: []string{"cam1 → rec-2", "cam2 → rec-3"}},
		}}
}

// The webhook gets the notification as JSON, its ID as the idempotency
// key and the body's HMAC-SHA256 with the secret.
func TestWebhook(t *testing.T) {
	n := testNotification()
	var got api.Notification
	var sig, key string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		sig, key = r.Header.Get(api.SignatureHeader), r.Header.Get(api.IdempotencyHeader)
		json.Unmarshal(body, &got)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "queued as 42")
	}))
	defer srv.Close()
	nf := &spec.Notifier{Name: "pager", Webhook: &spec.WebhookNotifier{URL: srv.URL + "/vigil", Secret: "s3cret"}}
	answer, err := Send(context.Background(), nf, n)
	if err != nil || answer != "202 Accepted: queued as 42" {
		t.Fatalf("answer %q, %v", answer, err)
	}
	if sig != Sign("s3cret", body) || !strings.HasPrefix(sig, "sha256=") || Sign("other", body) == sig {
		t.Errorf("signature %q does not check with the secret", sig)
	}
	if key != n.ID || got.ID != n.ID || len(got.Items) != 2 || got.Items[1].Cameras[1] != "cam2 → rec-3" {
		t.Errorf("idempotency key %q, body %+v", key, got)
	}

	// A refusal is an error that says what the server answered.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad signature", http.StatusUnauthorized) }))
	defer bad.Close()
	nf.Webhook.URL = bad.URL
	if _, err := Send(context.Background(), nf, n); err == nil || !strings.Contains(err.Error(), "401 Unauthorized: bad signature") {
		t.Errorf("refused webhook: %v", err)
	}
}

// smtpBackend is a mail server that keeps what it receives.
type smtpBackend struct {
	msgs chan smtpMsg
}

type smtpMsg struct {
	from, user string
	to         []string
	data       []byte
}

type smtpSession struct {
	be  *smtpBackend
	msg smtpMsg
}

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{be: b}, nil }

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "vigil" || pass != "mail-pass" {
			return errors.New("invalid credentials")
		}
		s.msg.user = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.msg.user == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	s.msg.data, _ = io.ReadAll(r)
	s.be.msgs <- s.msg
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// Mail goes to a real SMTP server (go-smtp) with PLAIN auth; the message's
// headers and body tell the notification.
func TestMail(t *testing.T) {
	be := &smtpBackend{msgs: make(chan smtpMsg, 1)}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	n := testNotification()
	nf := &spec.Notifier{Name: "ops-mail", SMTP: &spec.SMTPNotifier{Server: ln.Addr().String(), From: "vigil@example.com",
		To: []string{"ops@example.com", "night@example.com"}, Username: "vigil", Password: "mail-pass"}}
	answer, err := Send(context.Background(), nf, n)
	if err != nil || !strings.HasPrefix(answer, "250 ") {
		t.Fatalf("answer %q, %v", answer, err)
	}
	m := <-be.msgs
	if m.from != "vigil@example.com" || strings.Join(m.to, ",") != "ops@example.com,night@example.com" {
		t.Errorf("envelope from %q to %v", m.from, m.to)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "[vigil hq] FIRING failover: "+n.Summary {
		t.Errorf("subject %q", subject)
	}
	if got := msg.Header.Get("Message-Id"); got != "<"+n.ID+"@vigil.hq>" {
		t.Errorf("Message-ID %q", got)
	}
	if msg.Header.Get("To") != "ops@example.com, night@example.com" || msg.Header.Get("X-Vigil-Status") != "firing" {
		t.Errorf("headers %v", msg.Header)
	}
	body, _ := io.ReadAll(msg.Body)
	for _, want := range []string{"server.dead started, server rec-1", "cam2 → rec-3", "Notification " + n.ID} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}

	// Wrong credentials: the server's refusal is the error.
	nf.SMTP.Password = "wrong"
	if _, err := Send(context.Background(), nf, n); err == nil || !strings.Contains(err.Error(), "nvalid credentials") {
		t.Errorf("wrong password: %v", err)
	}
	// A mail server that does not answer costs at most the timeout.
	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	nf.SMTP.Server = silent.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Send(ctx, nf, n); err == nil {
		t.Error("a silent mail server: no error")
	}
}

// MQTT: published retained to Debian's mosquitto, read back by a
// subscriber that connects afterwards.
func TestMQTT(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/mosquitto"); err != nil {
			t.Skip("mosquitto is not installed (apt-get install mosquitto)")
		}
	}
	broker := startMosquitto(t, bin)
	n := testNotification()
	nf := &spec.Notifier{Name: "home", MQTT: &spec.MQTTNotifier{Broker: broker, Topic: "vigil/hq"}}
	answer, err := Send(context.Background(), nf, n)
	if err != nil || !strings.Contains(answer, "acknowledged") {
		t.Fatalf("answer %q, %v", answer, err)
	}
	got := make(chan []byte, 1)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("reader"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber cannot connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe("vigil/hq", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() })
	select {
	case b := <-got:
		var read api.Notification
		if err := json.Unmarshal(b, &read); err != nil || read.ID != n.ID || read.Items[0].Condition != "server.dead" {
			t.Errorf("read back %s (%v)", b, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no retained message on vigil/hq")
	}
}

// startMosquitto runs a broker on a free loopback port until the test ends.
func startMosquitto(t *testing.T, bin string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)), 0o600)
	cmd := exec.Command(bin, "-c", conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "tcp://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not listen on %s: %s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
