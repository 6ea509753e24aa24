package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// The Standard Webhooks reference vector.
func TestSignVector(t *testing.T) {
	k, err := key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(k, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
}

type request struct {
	header http.Header
	body   string
}

func recorder(t *testing.T, status func(n int) (int, http.Header)) (*httptest.Server, func() []request) {
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, request{r.Header.Clone(), string(b)})
		n := len(got)
		mu.Unlock()
		code, h := status(n)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		io.WriteString(w, "answer body")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), got...)
	}
}

func message() *sinks.Message {
	ev := &event.Event{ID: "evt_1", Source: "interfax", Type: "fax.outbound", Subject: "1"}
	return &sinks.Message{DeliveryID: "msg_abc", Rule: "r", Title: "t", Text: "x", Event: ev, EventJSON: []byte(`{"id":"evt_1"}`), Attempt: 1}
}

func TestSend(t *testing.T) {
	srv, got := recorder(t, func(int) (int, http.Header) { return 204, nil })
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	s, err := New("api", Config{URL: config.Secret(srv.URL + "/hook"), Secret: config.SecretList{config.Secret(secret)}, Headers: map[string]string{"X-Team": "fax"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Unix(1700000000, 0) }
	if err := s.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Unix(1700000060, 0) }
	if err := s.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	reqs := got()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d", len(reqs))
	}
	k, _ := key(config.Secret(secret))
	for i, r := range reqs {
		ts := []string{"1700000000", "1700000060"}[i]
		if r.body != `{"id":"evt_1"}` || r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Team") != "fax" {
			t.Errorf("request %d: %q %v", i, r.body, r.header)
		}
		if r.header.Get("webhook-id") != "msg_abc" {
			t.Errorf("webhook-id = %q: must be the delivery id, stable across retries", r.header.Get("webhook-id"))
		}
		if r.header.Get("webhook-timestamp") != ts {
			t.Errorf("webhook-timestamp = %q, want %s", r.header.Get("webhook-timestamp"), ts)
		}
		var tsn int64
		if ts == "1700000000" {
			tsn = 1700000000
		} else {
			tsn = 1700000060
		}
		if want := Sign(k, "msg_abc", tsn, []byte(r.body)); r.header.Get("webhook-signature") != want {
			t.Errorf("signature = %q, want %q", r.header.Get("webhook-signature"), want)
		}
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		header     http.Header
		permanent  bool
		retryAfter time.Duration
	}{
		{"server error retries", 503, nil, false, 0},
		{"rate limited with retry-after", 429, http.Header{"Retry-After": {"3"}}, false, 3 * time.Second},
		{"timeout status retries", 408, nil, false, 0},
		{"too early retries", 425, nil, false, 0},
		{"not found is permanent", 404, nil, true, 0},
		{"bad request is permanent", 400, nil, true, 0},
		{"redirect is not followed", 302, http.Header{"Location": {"/elsewhere"}}, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recorder(t, func(int) (int, http.Header) { return tc.code, tc.header })
			s, err := New("api", Config{URL: config.Secret(srv.URL)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), message())
			status, permanent, ra := sinks.Details(err)
			if err == nil || status != tc.code || permanent != tc.permanent || ra != tc.retryAfter {
				t.Errorf("err=%v status=%d permanent=%v retryAfter=%v", err, status, permanent, ra)
			}
			if n := len(got()); n != 1 {
				t.Errorf("requests = %d, want 1 (no redirects followed)", n)
			}
		})
	}
}

// Network errors retry and never print the URL, which may hold a token.
func TestSendNetworkErrorRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=s3cr3t-token"
	srv.Close()
	s, err := New("api", Config{URL: config.Secret(url)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), message())
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error leaks the URL: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "missing url"},
		{Config{URL: "ftp://x"}, "absolute http or https"},
		{Config{URL: "https://x", Secret: config.SecretList{"whsec_***"}}, "not valid base64"},
		{Config{URL: "https://x", Headers: map[string]string{"webhook-id": "x"}}, "cannot be overridden"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// A server that echoes the request in its error reply does not get the
// URL's token or path into the delivery log; the rest of the reply stays.
func TestSendErrorBodyScrubbed(t *testing.T) {
	const token, secret = "s3cr3t-token-in-query", "whsec_c2lnbmluZy1zZWNyZXQ="
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		fmt.Fprintf(w, "upstream broke handling POST %s (full: %s%s, sig %s)", r.RequestURI, srv.URL, r.RequestURI, secret)
	}))
	defer srv.Close()
	s, err := New("api", Config{URL: config.Secret(srv.URL + "/hooks/x9PRIVATEpath?token=" + token), Secret: config.SecretList{secret}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), message())
	if err == nil {
		t.Fatal("no error")
	}
	for _, leak := range []string{token, "x9PRIVATEpath", secret} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error shows %q: %v", leak, err)
		}
	}
	if !strings.Contains(err.Error(), "status 500: upstream broke handling POST <secret>") {
		t.Errorf("error lost the reply: %v", err)
	}
}
