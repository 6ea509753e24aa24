package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/interfax"
	"github.com/switchboard/switchboard/receivers/telesign"
)

// watchedBody is a request body that records whether anyone read it.
type watchedBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

// A callback from outside allow_ips, without the InterFAX token or without
// a TSA credential is refused from its headers: its body is never read, so
// such a sender costs no buffering.
func TestRefusedBeforeBodyRead(t *testing.T) {
	st, router := testStore(t)
	const token = "fax-callback-token-0123"
	fax, err := interfax.New("fax", interfax.Config{Token: token, AllowIPs: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := telesign.New("ts", telesign.Config{APIKey: config.Secret("bWFkZS11cC10ZWxlc2lnbi1rZXktZm9yLWRvY3Mtb25seS0wMTIzNDU2Nzg5")})
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, slog.New(slog.DiscardHandler), nil, Metrics{})
	s.Swap(&Routing{Receivers: map[string]receivers.Receiver{"fax": fax, "ts": ts}, Router: router, BodyLimit: 1 << 20, Hash: "h"})

	const form = "TransactionIDType=Outbound&TransactionID=664598111&CompletionTime=23%2F06%2F2024+17%3A23%3A13&DestinationFax=0012125551234&Status=263&PagesSent=0&PagesSubmitted=2&TrialsPerformed=4"
	tests := []struct {
		name, target, remote, auth, body string
		code                             int
		read                             bool
	}{
		{"outside allow_ips", "/hooks/fax?token=" + token, "198.51.100.7:4431", "", form, 403, false},
		{"no token", "/hooks/fax", "192.0.2.10:4431", "", form, 401, false},
		{"wrong token", "/hooks/fax?token=wrong-wrong-wrong-wrong", "192.0.2.10:4431", "", form, 401, false},
		{"no TSA credential", "/hooks/ts", "198.51.100.7:4431", "", "{}", 401, false},
		{"malformed TSA credential", "/hooks/ts", "198.51.100.7:4431", "TSA x:not*base64", "{}", 401, false},
		{"TSA credential of the right shape is checked against the body", "/hooks/ts", "198.51.100.7:4431", "TSA x:" + strings.Repeat("A", 43) + "=", "{}", 401, true},
		{"allowed and with the token", "/hooks/fax?token=" + token, "192.0.2.10:4431", "", form, 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := &watchedBody{r: strings.NewReader(tc.body)}
			req := httptest.NewRequest(http.MethodPost, tc.target, body)
			req.RemoteAddr = tc.remote
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if strings.HasPrefix(tc.target, "/hooks/ts") {
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status %d %s, want %d", rec.Code, rec.Body.String(), tc.code)
			}
			if body.read.Load() != tc.read {
				t.Errorf("body read: %v, want %v", body.read.Load(), tc.read)
			}
		})
	}
}
