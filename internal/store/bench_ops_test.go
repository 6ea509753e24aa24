package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// benchLog fills a SQLite store with events delivered to two sinks a month
// ago, and pending ones on a third sink now.
func benchLog(b *testing.B, old, pending int) (*Store, *clock) {
	b.Helper()
	ctx := context.Background()
	c := &clock{t: time.Now().Add(-30 * 24 * time.Hour)}
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), WithClock(c.now))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ingest := func(n int, prefix string, sinks ...string) {
		for i := 0; i < n; i += 500 {
			evs := make([]*event.Event, min(500, n-i))
			for j := range evs {
				evs[j] = &event.Event{Source: "telesign", Type: "sms", Subject: fmt.Sprint(prefix, i+j), Status: "success", Final: true, DedupKey: fmt.Sprint(prefix, i+j)}
				evs[j].Seal("telesign", c.now())
			}
			if _, err := st.Ingest(ctx, evs, toSinks(sinks...), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	ingest(old, "old-", "api", "audit")
	for _, sink := range []string{"api", "audit"} {
		for {
			ds, err := st.Claim(ctx, sink, 2000, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			os := make([]Outcome, len(ds))
			for i, d := range ds {
				os[i] = Outcome{ID: d.ID, Lease: d.Lease, State: StateDelivered, Status: 200, Started: c.now()}
			}
			if err := st.Finish(ctx, os...); err != nil {
				b.Fatal(err)
			}
		}
	}
	c.add(30 * 24 * time.Hour)
	ingest(pending, "new-", "slack")
	return st, c
}

// BenchmarkPruneBatch measures how long one prune transaction holds the
// writer, by batch size (rows of each kind per transaction), on a store of
// 20,000 month-old events delivered to two sinks.
func BenchmarkPruneBatch(b *testing.B) {
	for _, batch := range []int{100, 200, 500} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				st, _ := benchLog(b, 20000, 0)
				b.StartTimer()
				batches := 0
				start := time.Now()
				p, err := st.Prune(context.Background(), Retention{Delivered: 7 * 24 * time.Hour, Dead: 30 * 24 * time.Hour, Batch: batch},
					func(Pruned) { batches++ })
				if err != nil {
					b.Fatal(err)
				}
				// Without Pause, Prune waits pruneYield times each batch's
				// write: the writer's share is a (1+pruneYield)th of the time.
				writer := time.Since(start) / (1 + pruneYield)
				b.ReportMetric(float64(writer.Microseconds())/1000/float64(batches), "ms/batch")
				b.ReportMetric(float64(p.Delivered+p.Attempts+p.Events+p.Subjects)/writer.Seconds(), "rows/s-of-writer")
			}
		})
	}
}

// BenchmarkStats measures the queue query of one /metrics scrape with
// 100,000 pending deliveries and 200,000 delivered ones in the log.
func BenchmarkStats(b *testing.B) {
	st, _ := benchLog(b, 100000, 100000)
	b.ResetTimer()
	for range b.N {
		if _, err := st.Stats(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList measures `deliveries list --state dead --sink S` and an
// unfiltered list (newest 100) with 300,000 deliveries in the log.
func BenchmarkList(b *testing.B) {
	st, _ := benchLog(b, 100000, 100000)
	for _, f := range []Filter{{State: StateDead, Sink: "slack"}, {}, {Subject: "new-5"}} {
		b.Run(fmt.Sprintf("%+v", f), func(b *testing.B) {
			for range b.N {
				if _, err := st.List(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
