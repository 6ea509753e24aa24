package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/metrics"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// BenchmarkIntakeWhilePruning measures reply latency at a steady 2,500
// callbacks/s with the metrics hooks on while retention deletes 40,000
// month-old deliveries and their 20,000 events in the background, as serve
// runs it (200 rows per transaction, yielding the writer between them). Run
// with -benchtime=10000x.
func BenchmarkIntakeWhilePruning(b *testing.B) {
	ctx := context.Background()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), store.WithClock(clock))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })

	// A month ago: 20,000 events, each delivered to two sinks.
	offset.Store(int64(-30 * 24 * time.Hour))
	plan := func(*event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "final", Sink: "api"}, {Rule: "all", Sink: "audit"}}}
	}
	const oldEvents = 20000
	for i := 0; i < oldEvents; i += 500 {
		evs := make([]*event.Event, 500)
		for j := range evs {
			evs[j] = &event.Event{Source: "telesign", Type: "sms", Subject: fmt.Sprint("old-", i+j), Status: "success", Final: true, DedupKey: fmt.Sprint(i + j)}
			evs[j].Seal("telesign", clock())
		}
		if _, err := st.Ingest(ctx, evs, plan, nil); err != nil {
			b.Fatal(err)
		}
	}
	for _, sink := range []string{"api", "audit"} {
		for {
			ds, err := st.Claim(ctx, sink, 2000, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			os := make([]store.Outcome, len(ds))
			for i, d := range ds {
				os[i] = store.Outcome{ID: d.ID, Lease: d.Lease, State: store.StateDelivered, Status: 200, Started: clock()}
			}
			if err := st.Finish(ctx, os...); err != nil {
				b.Fatal(err)
			}
		}
	}
	offset.Store(0)

	m := metrics.New(st.Stats, slog.New(slog.DiscardHandler))
	srv := benchServer(b, st, benchRules, Metrics{
		Callback: m.Callback, Event: m.Event, RuleError: m.RuleError, Match: m.Match, Throttled: m.Throttled,
	})
	load(b, srv, 64, 500, 0)

	b.ResetTimer()
	pruned := make(chan store.Pruned, 1)
	var pruneTime time.Duration
	go func() {
		start := time.Now()
		p, err := st.Prune(ctx, store.Retention{Delivered: 7 * 24 * time.Hour, Dead: 30 * 24 * time.Hour, Batch: 200, Pause: 20 * time.Millisecond}, m.Pruned)
		if err != nil {
			b.Error(err)
		}
		pruneTime = time.Since(start)
		pruned <- p
	}()
	start := time.Now()
	lat := load(b, srv, 64, b.N, 2500)
	elapsed := time.Since(start)
	p := <-pruned
	report(b, lat, elapsed)
	if p.Delivered != 2*oldEvents || p.Events != oldEvents {
		b.Errorf("pruned %+v, want %d deliveries and %d events", p, 2*oldEvents, oldEvents)
	}
	b.ReportMetric(float64(p.Delivered+p.Attempts+p.Events+p.Subjects)/pruneTime.Seconds(), "pruned-rows/s")
	b.ReportMetric(pruneTime.Seconds(), "prune-s")
}
