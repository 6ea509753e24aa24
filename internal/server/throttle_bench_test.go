package server

import (
	"testing"
	"time"
)

// BenchmarkIntakeThrottled is BenchmarkIntake with the rules throttled:
// "storm" puts every callback under one key (all but the first are
// suppressed), "per-subject" gives each its own key (each opens a window:
// one throttle row per callback). Run with -benchtime=20000x.
func BenchmarkIntakeThrottled(b *testing.B) {
	for _, key := range []struct{ name, expr string }{{"storm", "string(code)"}, {"per-subject", "subject"}} {
		b.Run(key.name, func(b *testing.B) {
			srv := benchServer(b, benchStore(b), `
sinks: {audit: {type: log}, api: {type: webhook, url: "http://127.0.0.1:1/"}}
rules:
  - {name: failed, when: 'status == "failure"', to: [audit]}
  - {name: final, when: 'final && !stale', to: [api], throttle: {key: '`+key.expr+`', window: 1h}}
  - {name: all, when: 'true', to: [audit], throttle: {key: '`+key.expr+`', window: 1h}}
`, Metrics{})
			load(b, srv, 64, 500, 0)
			b.ResetTimer()
			start := time.Now()
			lat := load(b, srv, 64, b.N, 0)
			report(b, lat, time.Since(start))
		})
	}
}
