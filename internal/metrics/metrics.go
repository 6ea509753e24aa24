// Package metrics exposes Switchboard's Prometheus metrics on the admin
// listener's /metrics: what came in (callbacks, events, rule matches), what
// went out (deliveries, attempt latency), what waits (queue depth, read from
// the store at scrape time), and the state of the configuration.
//
// Its methods are the hooks the server, the delivery workers, reload and
// retention call; label values come from the configuration (receiver, rule
// and sink names) or small fixed sets, never from a callback's content.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
)

// Delivery attempt outcomes, as counted.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry" // failed, will be tried again
	OutcomeDead      = "dead"
)

// Metrics holds Switchboard's metrics in a registry of its own (no global
// state: tests and several services in one process do not collide).
type Metrics struct {
	reg *prometheus.Registry

	callbacks       *prometheus.CounterVec
	callbackSeconds *prometheus.HistogramVec
	events          *prometheus.CounterVec
	ruleMatches     *prometheus.CounterVec
	ruleErrors      *prometheus.CounterVec
	throttled       *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	attemptSeconds  *prometheus.HistogramVec
	reloadOK        prometheus.Gauge
	reloadTime      prometheus.Gauge
	reloads         *prometheus.CounterVec
	configHash      *prometheus.GaugeVec
	pruned          *prometheus.CounterVec
	timers          *prometheus.CounterVec
	silenced        prometheus.Counter
	queue           *queueCollector // nil without stats
}

// Stats is the store query the queue collector runs at each scrape.
type Stats func(ctx context.Context) ([]store.QueueStat, error)

// New returns the metrics with the Go runtime and process collectors, and
// a collector that reads queue depth from stats at each scrape (nil: none).
// Scrape errors are logged to log.
func New(stats Stats, log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.callbacks = f.counter("callbacks_total", "Callbacks received, by receiver and outcome (accepted, duplicate, unauthorized, malformed, too_large, store_error).", "receiver", "outcome")
	m.callbackSeconds = f.histogram("callback_duration_seconds", "Time from a callback's arrival to its reply being written, by receiver.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}, "receiver")
	m.events = f.counter("events_total", "Events stored, by source, type and status.", "source", "type", "status")
	m.ruleMatches = f.counter("rule_matches_total", "Events a rule matched.", "rule")
	m.ruleErrors = f.counter("rule_errors_total", "Rule conditions or templates that failed at run time on an event.", "rule")
	m.throttled = f.counter("rule_throttled_total", "Matches a rule's throttle suppressed.", "rule")
	m.deliveries = f.counter("deliveries_total", "Delivery attempts, by sink and outcome (delivered, retry, dead).", "sink", "outcome")
	m.attemptSeconds = f.histogram("delivery_attempt_duration_seconds", "Duration of one delivery attempt, by sink.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "sink")
	m.reloadOK = f.gauge("config_last_reload_successful", "Whether the last configuration load or reload succeeded (1) or failed (0).")
	m.reloadTime = f.gauge("config_last_reload_success_timestamp_seconds", "Time of the last successful configuration load or reload.")
	m.reloads = f.counter("config_reloads_total", "Configuration reloads, by result (success, failure).", "result")
	m.configHash = f.gaugeVec("config_hash", "The running configuration's sha256, as a label; the value is 1.", "hash")
	m.pruned = f.counter("retention_pruned_total", "Rows removed by retention, by kind (delivered, dead, attempts, events, subjects, throttles).", "kind")
	m.silenced = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "switchboard", Name: "deliveries_silenced_total",
		Help: "Deliveries a silence held back at intake (stored as silenced)."})
	m.reg.MustRegister(m.silenced)
	m.timers = f.counter("expectation_timers_total", "Expectation timers by expectation and what happened to them (started, cancelled, fired).", "expectation", "action")
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	if stats != nil {
		m.queue = newQueueCollector(stats, log)
		m.reg.MustRegister(m.queue)
	}
	return m
}

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// format. A failing collector (the store is down) is reported in the log
// and the other metrics are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: m.reg})
}

// Registry returns the registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Callback counts one callback and its latency.
func (m *Metrics) Callback(receiver, outcome string, d time.Duration) {
	m.callbacks.WithLabelValues(receiver, outcome).Inc()
	m.callbackSeconds.WithLabelValues(receiver).Observe(d.Seconds())
}

// Event counts one stored event. Its source and type label come from its
// Kind, which the receiver declared: a type derived from the payload counts
// as "<source>.other", an event without a Kind as source and type "other".
func (m *Metrics) Event(ev *event.Event) {
	source, typ := "other", "other"
	if k := ev.Kind; k != nil {
		source, typ = k.Source, k.MetricType()
	}
	m.events.WithLabelValues(source, typ, bounded(ev.Status, statuses)).Inc()
}

// Match counts one event matched by rule.
func (m *Metrics) Match(rule string) { m.ruleMatches.WithLabelValues(rule).Inc() }

// RuleError counts a rule that failed on an event.
func (m *Metrics) RuleError(rule string) { m.ruleErrors.WithLabelValues(rule).Inc() }

// Throttled counts a match of rule that its throttle suppressed.
func (m *Metrics) Throttled(rule string) { m.throttled.WithLabelValues(rule).Inc() }

// Attempt counts one delivery attempt by its outcome and observes its
// duration (deliver.Options.Observe).
func (m *Metrics) Attempt(sink string, o store.Outcome) {
	outcome := OutcomeRetry
	switch o.State {
	case store.StateDelivered:
		outcome = OutcomeDelivered
	case store.StateDead:
		outcome = OutcomeDead
	}
	m.deliveries.WithLabelValues(sink, outcome).Inc()
	m.attemptSeconds.WithLabelValues(sink).Observe(o.Duration.Seconds())
}

// ConfigLoaded records a configuration load or reload: hash is the new
// configuration's when err is nil.
func (m *Metrics) ConfigLoaded(hash string, err error, at time.Time) {
	if err != nil {
		m.reloadOK.Set(0)
		m.reloads.WithLabelValues("failure").Inc()
		return
	}
	m.reloadOK.Set(1)
	m.reloadTime.Set(float64(at.UnixNano()) / 1e9)
	m.reloads.WithLabelValues("success").Inc()
	m.configHash.Reset()
	m.configHash.WithLabelValues(hash).Set(1)
}

// Pruned counts what a retention batch removed.
func (m *Metrics) Pruned(p store.Pruned) {
	for kind, n := range map[string]int{"delivered": p.Delivered, "dead": p.Dead, "attempts": p.Attempts,
		"events": p.Events, "subjects": p.Subjects, "throttles": p.Throttles, "threads": p.Threads} {
		if n > 0 {
			m.pruned.WithLabelValues(kind).Add(float64(n))
		}
	}
}

var statuses = []string{event.StatusSuccess, event.StatusFailure, event.StatusPending, event.StatusUnknown}

// bounded keeps a label value from a fixed set, else "other".
func bounded(v string, known []string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// factory registers metrics named switchboard_<name>.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "switchboard", Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "switchboard", Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "switchboard", Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "switchboard", Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

// Matches returns how many events rule has matched since the process
// started (the web console shows it next to the rule).
func (m *Metrics) Matches(rule string) int {
	c, err := m.ruleMatches.GetMetricWithLabelValues(rule)
	if err != nil {
		return 0
	}
	var v dto.Metric
	if c.Write(&v) != nil {
		return 0
	}
	return int(v.GetCounter().GetValue())
}
