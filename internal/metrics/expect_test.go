package metrics

import (
	"context"
	"log/slog"
	"testing"
)

func TestTimers(t *testing.T) {
	m := New(nil, slog.New(slog.DiscardHandler))
	open := 7
	m.OpenTimers(func(context.Context) (int, error) { return open, nil })
	m.Timers([]string{"sms-final", "sms-final"}, []string{"sms-final"})
	m.TimerFired("fax-final")
	m.Silenced(3)
	got := scrape(t, m)
	for sample, want := range map[string]float64{
		`switchboard_deliveries_silenced_total`:                                            3,
		`switchboard_expectation_timers_open`:                                              7,
		`switchboard_expectation_timers_total{action="started",expectation="sms-final"}`:   2,
		`switchboard_expectation_timers_total{action="cancelled",expectation="sms-final"}`: 1,
		`switchboard_expectation_timers_total{action="fired",expectation="fax-final"}`:     1,
	} {
		if got[sample] != want {
			t.Errorf("%s = %v, want %v", sample, got[sample], want)
		}
	}
}
