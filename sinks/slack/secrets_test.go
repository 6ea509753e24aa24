package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
)

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// assertNoSecret fails if any error in err's chain, in any format, holds
// one of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	var texts []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	for _, s := range secrets {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Fatalf("error leaks %q: %s", s, txt)
			}
		}
	}
}

// TestSecretsNeverInErrors drives every failure path of both transports
// and checks no error text holds the webhook URL, its secret path or the
// token.
func TestSecretsNeverInErrors(t *testing.T) {
	const secretPath = "/services/T0SECRET/B0SECRET/zzSECRETzz"
	answer := func(status int, body string, h ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(h); i += 2 {
				w.Header().Set(h[i], h[i+1])
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	handlers := map[string]http.HandlerFunc{
		"403 invalid_token": answer(403, "invalid_token"),
		"429":               answer(429, "rate_limited", "Retry-After", "2"),
		"500":               answer(500, "oops"),
		"redirect":          answer(302, "", "Location", secretPath+"/again"),
		"echoes the path":   func(w http.ResponseWriter, r *http.Request) { http.Error(w, r.URL.Path, 400) },
		"api error":         answer(200, `{"ok":false,"error":"invalid_auth"}`, "Content-Type", "application/json"),
		"api rate limit":    answer(429, "", "Retry-After", "1"),
		"not json":          answer(200, "<html>"+testToken+"</html>", "Content-Type", "application/json"),
		"timeout":           hang,
	}
	for name, h := range handlers {
		srv := newServer(t, h)
		t.Run("webhook "+name, func(t *testing.T) {
			if strings.HasPrefix(name, "api") || name == "not json" {
				t.Skip("a webhook takes any 2xx as delivered")
			}
			hook := srv + secretPath
			s := newSink(t, Config{WebhookURL: config.Secret(hook)})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			assertNoSecret(t, s.Send(ctx, testMessage(t)), hook, secretPath, "SECRET")
		})
		t.Run("token "+name, func(t *testing.T) {
			s := newSink(t, Config{Token: testToken, Channel: "C1", APIURL: srv})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			assertNoSecret(t, s.Send(ctx, testMessage(t)), testToken)
		})
	}

	t.Run("webhook connection refused", func(t *testing.T) {
		hook := "http://" + closedAddr(t) + secretPath
		s := newSink(t, Config{WebhookURL: config.Secret(hook)})
		err := s.Send(context.Background(), testMessage(t))
		assertNoSecret(t, err, hook, secretPath, "SECRET")
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("error lost its cause: %v", err)
		}
	})
	t.Run("token connection refused", func(t *testing.T) {
		s := newSink(t, Config{Token: testToken, Channel: "C1", APIURL: "http://" + closedAddr(t) + "/api/"})
		assertNoSecret(t, s.Send(context.Background(), testMessage(t)), testToken)
	})
	t.Run("config errors", func(t *testing.T) {
		for _, cfg := range []Config{
			{WebhookURL: "http://example.com" + secretPath},
			{WebhookURL: "ftp://example.com" + secretPath},
			{WebhookURL: "%%" + secretPath},
			{WebhookURL: "https://example.com" + secretPath, Token: testToken},
			{Token: "SECRET-not-a-token", Channel: "c"},
		} {
			_, err := New("ops-slack", cfg)
			assertNoSecret(t, err, secretPath, "SECRET", testToken)
		}
	})
	t.Run("config printing", func(t *testing.T) {
		cfg := Config{WebhookURL: "https://example.com" + secretPath, Token: testToken}
		for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
			if strings.Contains(s, "SECRET") || strings.Contains(s, testToken) {
				t.Errorf("printed config leaks a secret: %s", s)
			}
		}
	})
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + l.Addr().String()
}
