package email

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/sinkstest"
)

const utf8Title = "Fax an Jörg Müller fehlgeschlagen: besetzt ✉"

// testMessage is the failed-fax default message with a UTF-8 title, as a
// rule title template would produce.
func testMessage(t *testing.T) *sinks.Message {
	m := sinkstest.DefaultMessage(t, "testdata/failed-fax.event.json")
	m.DeliveryID = "dlv_42"
	m.Title = utf8Title
	m.Templated = true
	return m
}

func testConfig(srv *smtpServer, mode string, cert testCert) Config {
	cfg := Config{
		SMTP: SMTP{Host: "127.0.0.1", Port: srv.port, TLS: mode},
		From: "Switchboard <switchboard@example.com>",
		To:   []string{"fax-team@example.com", "Jörg Müller <joerg@example.com>"},
		CC:   []string{"ops@example.com"},
	}
	if mode != TLSNone {
		cfg.SMTP.Username, cfg.SMTP.Password = testUser, testPass
		cfg.SMTP.TLSCAFile = cert.pemFile
	}
	return cfg
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New("fax-team", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendModes(t *testing.T) {
	cert := newTestCert(t)
	tests := []struct {
		name     string
		server   serverMode
		mode     string
		wantUser string
		wantTLS  bool
	}{
		{"starttls with AUTH PLAIN", startTLSServer, TLSStartTLS, testUser, true},
		{"implicit tls with AUTH PLAIN", implicitServer, TLSImplicit, testUser, true},
		{"no tls", plainServer, TLSNone, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, tc.server, cert)
			m := testMessage(t)
			before := time.Now().Truncate(time.Second)
			if err := newSink(t, testConfig(srv, tc.mode, cert)).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := srv.got()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			r := got[0]
			if r.user != tc.wantUser || r.tls != tc.wantTLS {
				t.Errorf("auth user %q, tls %v; want %q, %v", r.user, r.tls, tc.wantUser, tc.wantTLS)
			}
			if r.from != "switchboard@example.com" {
				t.Errorf("MAIL FROM %q", r.from)
			}
			wantRcpts := []string{"fax-team@example.com", "joerg@example.com", "ops@example.com"}
			if !slices.Equal(r.rcpts, wantRcpts) {
				t.Errorf("RCPT TO %v, want %v", r.rcpts, wantRcpts)
			}
			checkMessage(t, r.data, m, before)
		})
	}
}

// checkMessage parses a received mail and checks its headers and both
// bodies against m.
func checkMessage(t *testing.T, data []byte, m *sinks.Message, notBefore time.Time) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("unparsable message: %v\n%s", err, data)
	}
	h := msg.Header
	rawSubject := h.Get("Subject")
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if err != nil || subject != utf8Title {
		t.Errorf("Subject %q decodes to %q (%v), want %q", rawSubject, subject, err, utf8Title)
	}
	if strings.ContainsFunc(rawSubject, func(r rune) bool { return r > 127 }) {
		t.Errorf("Subject is not MIME-encoded: %q", rawSubject)
	}
	date, err := h.Date()
	if err != nil || date.Before(notBefore) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %q = %v (%v), want now", h.Get("Date"), date, err)
	}
	if id := h.Get("Message-Id"); id != "<switchboard.dlv_42@example.com>" {
		t.Errorf("Message-ID = %q", id)
	}
	addrs := func(key string) []string {
		list, err := h.AddressList(key)
		if err != nil {
			t.Errorf("%s: %v", key, err)
		}
		var out []string
		for _, a := range list {
			out = append(out, a.String())
		}
		return out
	}
	if got := addrs("From"); !slices.Equal(got, []string{`"Switchboard" <switchboard@example.com>`}) {
		t.Errorf("From = %v", got)
	}
	if got := addrs("To"); len(got) != 2 || got[0] != "<fax-team@example.com>" || !strings.Contains(got[1], "joerg@example.com") {
		t.Errorf("To = %v", got)
	}
	if list, _ := h.AddressList("To"); len(list) == 2 && list[1].Name != "Jörg Müller" {
		t.Errorf("To display name = %q", list[1].Name)
	}
	if got := addrs("Cc"); !slices.Equal(got, []string{"<ops@example.com>"}) {
		t.Errorf("Cc = %v", got)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("X-Switchboard-Event") != m.Event.ID {
		t.Errorf("Auto-Submitted %q, X-Switchboard-Event %q", h.Get("Auto-Submitted"), h.Get("X-Switchboard-Event"))
	}

	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", h.Get("Content-Type"), err)
	}
	want, err := render(m)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if !strings.EqualFold(cp["charset"], "utf-8") {
			t.Errorf("%s part charset %q", ct, cp["charset"])
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	if parts["text/plain"] != want.plain {
		t.Errorf("plain body:\n%s\nwant:\n%s", parts["text/plain"], want.plain)
	}
	if parts["text/html"] != want.html {
		t.Errorf("html body:\n%s\nwant:\n%s", parts["text/html"], want.html)
	}
	for _, s := range []string{m.Text, "+1 212 555 1234", "0 of 2 sent"} {
		if !strings.Contains(parts["text/plain"], s) || !strings.Contains(html.UnescapeString(parts["text/html"]), s) {
			t.Errorf("a body lacks %q", s)
		}
	}
}

// TestTempFailureThenDelivered plays the worker's part: a 451 is a
// retryable error, and the retry carries the same Message-ID.
func TestTempFailureThenDelivered(t *testing.T) {
	cert := newTestCert(t)
	srv := startSMTP(t, startTLSServer, cert)
	srv.onData = func(attempt int) error {
		if attempt == 1 {
			return errTempFail
		}
		return nil
	}
	s := newSink(t, testConfig(srv, TLSStartTLS, cert))
	m := testMessage(t)
	err := s.Send(context.Background(), m)
	if err == nil {
		t.Fatal("first attempt succeeded")
	}
	if status, perm, _ := sinks.Details(err); perm || status != 451 || sinks.IsPermanent(err) {
		t.Errorf("451: status %d, permanent %v (%v)", status, perm, err)
	}
	if !strings.HasPrefix(err.Error(), "email: send via fax-team: ") || !strings.Contains(err.Error(), "451") {
		t.Errorf("error = %q", err)
	}
	m.Attempt = 2
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(srv.got()); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
	var ids []string
	for _, b := range srv.seen {
		msg, _ := mail.ReadMessage(bytes.NewReader(b))
		ids = append(ids, msg.Header.Get("Message-Id"))
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("Message-IDs of the attempts = %v, want two equal", ids)
	}
}

func TestSMTPReplies(t *testing.T) {
	cert := newTestCert(t)
	tests := []struct {
		name      string
		setup     func(*smtpServer)
		status    int
		permanent bool
	}{
		{"550 at RCPT", func(s *smtpServer) { s.onRcpt = func(string) error { return errNoSuchUser } }, 550, true},
		{"451 at RCPT", func(s *smtpServer) { s.onRcpt = func(string) error { return errTempFail } }, 451, false},
		{"554 at DATA", func(s *smtpServer) {
			s.onData = func(int) error { return &smtpError554 }
		}, 554, true},
		{"421 at MAIL", func(s *smtpServer) {
			s.onMail = func() error { return &smtpError421 }
		}, 421, false},
		{"530 at MAIL", func(s *smtpServer) {
			s.onMail = func() error { return &smtpError530 }
		}, 530, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMTP(t, startTLSServer, cert)
			tc.setup(srv)
			err := newSink(t, testConfig(srv, TLSStartTLS, cert)).Send(context.Background(), testMessage(t))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			t.Log(err)
			status, perm, _ := sinks.Details(err)
			if status != tc.status || perm != tc.permanent {
				t.Errorf("status %d, permanent %v; want %d, %v (%v)", status, perm, tc.status, tc.permanent, err)
			}
			if n := len(srv.got()); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
		})
	}
}

func TestConnectionFailures(t *testing.T) {
	cert := newTestCert(t)
	t.Run("auth rejected", func(t *testing.T) {
		srv := startSMTP(t, startTLSServer, cert)
		cfg := testConfig(srv, TLSStartTLS, cert)
		cfg.SMTP.Password = "wrong-" + testPass
		err := newSink(t, cfg).Send(context.Background(), testMessage(t))
		t.Log(err)
		if status, perm, _ := sinks.Details(err); err == nil || status != 535 || !perm {
			t.Errorf("status %d, permanent %v (%v); want 535, permanent", status, perm, err)
		}
	})
	t.Run("starttls is mandatory", func(t *testing.T) {
		srv := startSMTP(t, plainServer, cert)
		err := newSink(t, testConfig(srv, TLSStartTLS, cert)).Send(context.Background(), testMessage(t))
		if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v, want a retryable STARTTLS error", err)
		}
		if n := len(srv.got()); n != 0 {
			t.Errorf("%d messages sent in clear", n)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := startSMTP(t, implicitServer, cert)
		cfg := testConfig(srv, TLSImplicit, cert)
		cfg.SMTP.TLSCAFile = ""
		err := newSink(t, cfg).Send(context.Background(), testMessage(t))
		if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %v, want a retryable certificate error", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cfg := Config{SMTP: SMTP{Host: "127.0.0.1", Port: port, TLS: TLSNone}, From: "a@example.com", To: []string{"b@example.com"}}
		err := newSink(t, cfg).Send(context.Background(), testMessage(t))
		if status, perm, _ := sinks.Details(err); err == nil || perm || status != 0 {
			t.Errorf("status %d, permanent %v (%v); want a retryable error", status, perm, err)
		}
	})
	t.Run("context ends the session", func(t *testing.T) {
		srv := startSMTP(t, startTLSServer, cert)
		release := make(chan struct{})
		defer close(release)
		srv.onData = func(int) error { <-release; return nil }
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := newSink(t, testConfig(srv, TLSStartTLS, cert)).Send(ctx, testMessage(t))
		if !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
			t.Errorf("err = %v, want a retryable deadline error", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send returned after %v, long past its deadline", d)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := func() Config {
		return Config{SMTP: SMTP{Host: "smtp.example.com", Username: "bot", Password: "x"}, From: "a@example.com", To: []string{"b@example.com"}}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no host", func(c *Config) { c.SMTP.Host = "" }, "smtp.host is required"},
		{"bad tls", func(c *Config) { c.SMTP.TLS = "ssl" }, `"ssl" is not one of`},
		{"bad port", func(c *Config) { c.SMTP.Port = 70000 }, "not a TCP port"},
		{"password alone", func(c *Config) { c.SMTP.Username = "" }, "without smtp.username"},
		{"username alone", func(c *Config) { c.SMTP.Password = "" }, "without smtp.password"},
		{"auth in clear", func(c *Config) { c.SMTP.TLS = TLSNone }, "password would travel in clear"},
		{"no from", func(c *Config) { c.From = "" }, "from is required"},
		{"bad from", func(c *Config) { c.From = "not an address" }, "from:"},
		{"no to", func(c *Config) { c.To = nil }, "to needs at least one address"},
		{"bad cc", func(c *Config) { c.CC = []string{"x@"} }, "cc:"},
		{"missing ca file", func(c *Config) { c.SMTP.TLSCAFile = "/nonexistent/ca.pem" }, "tls_ca_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.change(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	cfg := ok()
	if err := cfg.Validate(); err != nil || cfg.SMTP.TLS != TLSStartTLS || cfg.SMTP.Port != 587 {
		t.Errorf("defaults: tls %q port %d (%v)", cfg.SMTP.TLS, cfg.SMTP.Port, err)
	}
	cfg = ok()
	cfg.SMTP.TLS = TLSImplicit
	if _ = cfg.Validate(); cfg.SMTP.Port != 465 {
		t.Errorf("tls default port %d", cfg.SMTP.Port)
	}
}
