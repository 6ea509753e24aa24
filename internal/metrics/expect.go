package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Timers counts the expectation timers an intake started and stopped
// (server.Metrics.Timers).
func (m *Metrics) Timers(started, cancelled []string) {
	for _, x := range started {
		m.timers.WithLabelValues(x, "started").Inc()
	}
	for _, x := range cancelled {
		m.timers.WithLabelValues(x, "cancelled").Inc()
	}
}

// Silenced counts n deliveries a silence held back (server.Metrics.Silenced).
func (m *Metrics) Silenced(n int) { m.silenced.Add(float64(n)) }

// TimerFired counts a timer of expectation that fired.
func (m *Metrics) TimerFired(expectation string) {
	m.timers.WithLabelValues(expectation, "fired").Inc()
}

// OpenTimers registers switchboard_expectation_timers_open, read from open
// (the store's count, on every instance's timers) at each scrape.
func (m *Metrics) OpenTimers(open func(ctx context.Context) (int, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchboard", Name: "expectation_timers_open",
		Help: "Expectation timers open (started, neither stopped nor fired), on every instance."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := open(ctx)
		if err != nil {
			return 0
		}
		return float64(n)
	}))
}
