package email

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// assertNoSecret fails if any error in err's chain, in any format, holds
// one of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	var texts []string
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
			if j, ok := e.(interface{ Unwrap() []error }); ok {
				for _, c := range j.Unwrap() {
					walk(c)
				}
				return
			}
			e = errors.Unwrap(e)
		}
	}
	walk(err)
	for _, s := range secrets {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Fatalf("error leaks %q: %s", s, txt)
			}
		}
	}
}

// TestPasswordNeverInErrors drives every failure path with credentials set
// and checks no error text holds the password or the AUTH PLAIN blob.
func TestPasswordNeverInErrors(t *testing.T) {
	cert := newTestCert(t)
	plainBlob := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass))
	secrets := []string{testPass, plainBlob}

	send := func(t *testing.T, srv *smtpServer, mode string, change func(*Config)) error {
		cfg := testConfig(srv, mode, cert)
		cfg.SMTP.Username, cfg.SMTP.Password = testUser, testPass
		if change != nil {
			change(&cfg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return newSink(t, cfg).Send(ctx, testMessage(t))
	}
	t.Run("auth rejected", func(t *testing.T) {
		srv := startSMTP(t, startTLSServer, cert)
		err := send(t, srv, TLSStartTLS, func(c *Config) { c.SMTP.Username = "someone-else" })
		assertNoSecret(t, err, secrets...)
	})
	t.Run("451", func(t *testing.T) {
		srv := startSMTP(t, implicitServer, cert)
		srv.onRcpt = func(string) error { return errTempFail }
		assertNoSecret(t, send(t, srv, TLSImplicit, nil), secrets...)
	})
	t.Run("550", func(t *testing.T) {
		srv := startSMTP(t, startTLSServer, cert)
		srv.onData = func(int) error { return errNoSuchUser }
		assertNoSecret(t, send(t, srv, TLSStartTLS, nil), secrets...)
	})
	t.Run("no starttls", func(t *testing.T) {
		srv := startSMTP(t, plainServer, cert)
		assertNoSecret(t, send(t, srv, TLSStartTLS, nil), secrets...)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := startSMTP(t, startTLSServer, cert)
		assertNoSecret(t, send(t, srv, TLSStartTLS, func(c *Config) { c.SMTP.TLSCAFile = "" }), secrets...)
	})
	t.Run("timeout", func(t *testing.T) {
		srv := startSMTP(t, startTLSServer, cert)
		release := make(chan struct{})
		defer close(release)
		srv.onData = func(int) error { <-release; return nil }
		assertNoSecret(t, send(t, srv, TLSStartTLS, nil), secrets...)
	})
	t.Run("connection refused", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		srv := &smtpServer{port: port}
		assertNoSecret(t, send(t, srv, TLSStartTLS, nil), secrets...)
	})
	t.Run("config errors", func(t *testing.T) {
		for _, cfg := range []Config{
			{SMTP: SMTP{Host: "h", Username: "u", Password: testPass, TLS: TLSNone}, From: "a@example.com", To: []string{"b@example.com"}},
			{SMTP: SMTP{Host: "h", Password: testPass}, From: "a@example.com", To: []string{"b@example.com"}},
		} {
			_, err := New("fax-team", cfg)
			assertNoSecret(t, err, secrets...)
		}
	})
	t.Run("config printing", func(t *testing.T) {
		cfg := Config{SMTP: SMTP{Host: "h", Username: "u", Password: testPass}}
		for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
			if strings.Contains(s, testPass) {
				t.Errorf("printed config leaks the password: %s", s)
			}
		}
	})
}

// TestScrub checks the last line of defence: an error that does carry the
// password (go-mail never produced one in the cases above) is redacted.
func TestScrub(t *testing.T) {
	s := newSink(t, Config{SMTP: SMTP{Host: "h", Username: "u", Password: testPass}, From: "a@example.com", To: []string{"b@example.com"}})
	err := s.secrets.Redact(fmt.Errorf("auth: server said %s is wrong", testPass))
	if strings.Contains(err.Error(), testPass) || !strings.Contains(err.Error(), "<secret>") {
		t.Errorf("scrub = %q", err)
	}
}
