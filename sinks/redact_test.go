package sinks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestScrub(t *testing.T) {
	s := NewSecrets("pa55word", "")
	s.AddURL("https://user:hunter22@hooks.example.com/services/T0/B0/xyzSECRET?token=t0k3n&v=1")
	got := s.Scrub("Cannot POST /services/T0/B0/xyzSECRET?token=t0k3n&v=1 (services/T0/B0/xyzSECRET, token t0k3n, pass hunter22 pa55word, v=1)")
	want := "Cannot POST <secret> (<secret>, token <secret>, pass <secret> <secret>, v=1)"
	if got != want {
		t.Errorf("Scrub:\n got %s\nwant %s", got, want)
	}
	var none *Secrets
	if none.Scrub("x") != "x" || none.Redact(errors.New("x")).Error() != "x" {
		t.Error("nil Secrets changed a text")
	}
}

// Redact hides the URL of a net/http error and keeps its cause for
// errors.As; another error with a secret is flattened; one without is
// returned as is.
func TestRedact(t *testing.T) {
	secret := "http://127.0.0.1:1/hook?token=s3cr3t-token"
	s := NewSecrets()
	s.AddURL(secret)

	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, secret, nil)
	_, err := http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, e := range []error{err, fmt.Errorf("client: %w", err)} {
		red := s.Redact(e)
		if strings.Contains(red.Error(), "s3cr3t") || strings.Contains(red.Error(), "/hook") || !strings.Contains(red.Error(), Redacted) {
			t.Errorf("Redact(%v) = %v", e, red)
		}
		if !errors.Is(red, context.DeadlineExceeded) {
			t.Errorf("Redact(%v) lost its cause: %#v", e, red)
		}
	}

	plain := errors.New("server said s3cr3t-token is wrong")
	if red := s.Redact(plain); red.Error() != "server said <secret> is wrong" {
		t.Errorf("Redact = %v", red)
	}
	clean := errors.New("connection reset")
	if s.Redact(clean) != clean {
		t.Error("an error without a secret was replaced")
	}
}
