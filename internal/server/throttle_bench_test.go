package server

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/rules"
)

// BenchmarkIntakeThrottled is BenchmarkIntake with the rules throttled:
// "storm" puts every callback under one key (all but the first are
// suppressed), "per-subject" gives each its own key (each opens a window:
// one throttle row per callback). Run with -benchtime=20000x.
func BenchmarkIntakeThrottled(b *testing.B) {
	for _, key := range []struct{ name, expr string }{{"storm", "string(code)"}, {"per-subject", "subject"}} {
		b.Run(key.name, func(b *testing.B) {
			st := benchStore(b)
			rc, err := telesign.New("telesign", telesign.Config{CustomerID: benchCustomer, APIKey: config.Secret(benchKey)})
			if err != nil {
				b.Fatal(err)
			}
			f, err := rules.Parse("bench.yaml", strings.NewReader(`
sinks: {audit: {type: log}, api: {type: webhook, url: "http://127.0.0.1:1/"}}
rules:
  - {name: failed, when: 'status == "failure"', to: [audit]}
  - {name: final, when: 'final && !stale', to: [api], throttle: {key: '`+key.expr+`', window: 1h}}
  - {name: all, when: 'true', to: [audit], throttle: {key: '`+key.expr+`', window: 1h}}
`), func(string) (string, bool) { return "", false })
			if err != nil {
				b.Fatal(err)
			}
			s := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Metrics{})
			s.Swap(&Routing{Receivers: map[string]receivers.Receiver{"telesign": rc}, Router: f.Router, BodyLimit: 1 << 20})
			srv := httptest.NewServer(s.Handler())
			b.Cleanup(srv.Close)
			load(b, srv, 64, 500, 0)
			b.ResetTimer()
			start := time.Now()
			lat := load(b, srv, 64, b.N, 0)
			report(b, lat, time.Since(start))
		})
	}
}
