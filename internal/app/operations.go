package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/deliver"
	"github.com/switchboard/switchboard/internal/metrics"
	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
)

// operations is what an operator runs Switchboard with: the metrics, the
// admin token guard and retention. It follows the configuration through
// reloads.
type operations struct {
	metrics   *metrics.Metrics
	log       *slog.Logger
	token     atomic.Pointer[string]
	retention atomic.Pointer[config.Retention]
	status    atomic.Pointer[ConfigStatus]
}

// ConfigStatus is the running configuration and how the last load or
// reload went, as the web console shows it.
type ConfigStatus struct {
	Hash     string
	LoadedAt time.Time // when the running configuration was loaded
	// LastReload is when the configuration was last loaded or reloaded;
	// LastReloadErrors say why that refused the new one (empty: it
	// succeeded), each with its file and line.
	LastReload       time.Time
	LastReloadErrors []string
}

func newOperations(st *store.Store, log *slog.Logger) *operations {
	m := metrics.New(st.Stats, log)
	m.OpenTimers(st.OpenTimers)
	m.Writer(st.WriterStats)
	return &operations{metrics: m, log: log}
}

// serverMetrics are the intake hooks.
func (o *operations) serverMetrics() server.Metrics {
	return server.Metrics{
		Callback:  o.metrics.Callback,
		Event:     o.metrics.Event,
		RuleError: o.metrics.RuleError,
		Match:     o.metrics.Match,
		Throttled: o.metrics.Throttled,
		Timers:    o.metrics.Timers,
		Silenced:  o.metrics.Silenced,
	}
}

// deliverOptions are the delivery workers' options.
func (o *operations) deliverOptions() deliver.Options {
	return deliver.Options{Observe: o.metrics.Attempt}
}

// configLoaded records a load or reload: b is the new configuration, or
// nil when err says why it was refused.
func (o *operations) configLoaded(b *Built, err error) {
	now := time.Now()
	if err != nil {
		o.metrics.ConfigLoaded("", err, now)
		st := ConfigStatus{LastReload: now, LastReloadErrors: errorLines(err)}
		if prev := o.status.Load(); prev != nil {
			st.Hash, st.LoadedAt = prev.Hash, prev.LoadedAt
		}
		o.status.Store(&st)
		return
	}
	o.status.Store(&ConfigStatus{Hash: b.File.Hash, LoadedAt: now, LastReload: now})
	token := b.File.AdminToken.Value()
	o.token.Store(&token)
	r := b.File.Retention
	o.retention.Store(&r)
	o.metrics.ConfigLoaded(b.File.Hash, nil, now)
}

// errorLines are a load error's messages, one per configuration error.
func errorLines(err error) []string {
	var es config.Errors
	if !errors.As(err, &es) {
		return []string{err.Error()}
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

// admin mounts /metrics and guards the admin mux with the admin token (when
// one is configured; it is required off loopback) and against browsers
// (loopback: whether the listener is bound to loopback).
// forms are the console's form POSTs, which check their own CSRF token.
func (o *operations) admin(mux *http.ServeMux, loopback bool, forms []string) http.Handler {
	mux.Handle("GET /metrics", o.metrics.Handler())
	return server.NoStore(server.RequireToken(server.GuardBrowsers(mux, loopback, forms...), o.adminToken))
}

// adminToken is the running configuration's admin_token ("" for none).
func (o *operations) adminToken() string {
	if t := o.token.Load(); t != nil {
		return *t
	}
	return ""
}

// Retention runs this long after start, then at this interval. Variables
// for tests.
var (
	retentionFirst = time.Minute
	retentionEvery = 10 * time.Minute
)

// retentionBatch and retentionPause keep each prune transaction small and
// leave the writer to intake between them.
const (
	retentionBatch = 200
	retentionPause = 20 * time.Millisecond
)

// startRetention prunes the delivery log in the background until the
// returned stop is called; stop waits for it to end.
func (o *operations) startRetention(st *store.Store) (stop func()) {
	return every(retentionFirst, retentionEvery, func(ctx context.Context) { o.prune(ctx, st) })
}

// every runs f after first, then every interval, in a goroutine of its
// own, until the returned stop is called; stop cancels the ctx f gets and
// waits for f to return.
func every(first, interval time.Duration, f func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			f(ctx)
			t.Reset(interval)
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

func (o *operations) prune(ctx context.Context, st *store.Store) {
	r := o.retention.Load()
	if r == nil {
		return
	}
	start := time.Now()
	p, err := st.Prune(ctx, store.Retention{
		Delivered: time.Duration(r.Delivered),
		Dead:      time.Duration(r.Dead),
		Batch:     retentionBatch,
		Pause:     retentionPause,
	}, o.metrics.Pruned)
	attrs := []any{"delivered", p.Delivered, "dead", p.Dead, "attempts", p.Attempts, "events", p.Events,
		"subjects", p.Subjects, "throttles", p.Throttles, "threads", p.Threads, "duration", time.Since(start)}
	switch {
	case err != nil && ctx.Err() == nil:
		o.log.Error("retention: prune failed, trying again later", append(attrs, "err", err)...)
	case p != store.Pruned{}:
		o.log.Info("retention: pruned", attrs...)
	}
}
