package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// benchRouter is a configuration with one rule and n expectations on SMS
// types the benchmark's fax events are not: routing evaluates them all
// and none starts or stops a timer. With stopAll, each expectation's then
// is `final`, which every final fax matches: an event with history (see
// BenchmarkOpenTimers) stops n timers, one DELETE for all.
func benchRouter(b *testing.B, n int, stopAll bool) Planner {
	b.Helper()
	var y strings.Builder
	y.WriteString("sinks:\n  api: {type: log}\nrules:\n  - {name: all, when: final, to: [api]}\n")
	if n > 0 {
		y.WriteString("expect:\n")
	}
	for i := range n {
		then := fmt.Sprintf(`type == "sms.x%d" && final`, i)
		if stopAll {
			then = "final"
		}
		fmt.Fprintf(&y, "  - {name: x%d, after: 'type == \"sms.x%d\" && status == \"pending\"', then: '%s', within: 15m}\n", i, i, then)
	}
	f, err := rules.Parse("bench.yaml", strings.NewReader(y.String()), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	return f.Router.Route
}

// BenchmarkIntakeExpectations compares intake (the rules and the writer,
// from 32 concurrent callers) without expectations and with 10 that the
// events do not match: the issue asks the second within 10 % of the first.
// In "10-then-final" every event matches each expectation's then, but is
// the first of its transaction (as most faxes' single final callback): it
// has no timer to stop and costs no DELETE.
func BenchmarkIntakeExpectations(b *testing.B) {
	for _, tc := range []struct {
		name    string
		n       int
		stopAll bool
	}{{"none", 0, false}, {"10", 10, false}, {"10-then-final", 10, true}} {
		b.Run(tc.name, func(b *testing.B) {
			st, err := Open(context.Background(), filepath.Join(b.TempDir(), "x.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchIntake(b, st, benchRouter(b, tc.n, tc.stopAll), new(atomic.Int64), false)
		})
	}
}

// benchIntake ingests final fax events with new subjects; with history,
// each is routed as if its subject had a pending status stored before.
func benchIntake(b *testing.B, st *Store, plan Planner, n *atomic.Int64, history bool) {
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			ev := &event.Event{Source: "interfax", Type: "fax.outbound", Subject: fmt.Sprint(1000000 + i), Status: "success", Final: true,
				Description: "OK", DedupKey: fmt.Sprint(i), Data: map[string]any{"DestinationFax": "0012125551234", "PagesSent": 2}}
			ev.Seal("interfax", time.Now())
			if history {
				st.hints.put(ev.Source, ev.Subject, "pending", false) // as if a pending status came first
			}
			if _, err := st.Ingest(ctx, []*event.Event{ev}, plan, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOpenTimers measures, with 1 million timers open, what the
// timers cost: intake of events that stop one (a DELETE by primary key),
// the firing loop's look for a due timer (an index probe on due_at) and
// firing a batch. Timers live in the store only, so they take no memory
// in the process.
func BenchmarkOpenTimers(b *testing.B) {
	const open = 1_000_000
	c := &clock{t: time.Unix(1700000000, 0)}
	st, err := Open(context.Background(), filepath.Join(b.TempDir(), "timers.db"), WithClock(c.now))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	start := ms(c.now())
	if _, err := st.db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO timers (source, subject, expectation, receiver, event_id, started_at, due_at)
		SELECT 'interfax', CAST(1000000 + i AS TEXT), 'x0', 'interfax', 'evt', ?, ? + 3600000 + i FROM n`, open-1, start, start); err != nil {
		b.Fatal(err)
	}
	b.Run("intake-stopping-one", func(b *testing.B) {
		benchIntake(b, st, benchRouter(b, 10, true), new(atomic.Int64), true)
	})
	b.Run("due-check", func(b *testing.B) {
		for b.Loop() {
			if due, err := st.TimersDue(ctx); err != nil || due {
				b.Fatal(due, err)
			}
		}
	})
	b.Run("fire-256", func(b *testing.B) {
		c.add(2 * time.Hour) // every timer is due
		mk := func(t Timer) *event.Event {
			ev := &event.Event{Source: "switchboard", Type: "expectation.missed", Subject: t.Subject, Status: "unknown",
				DedupKey: t.Subject + t.Expectation}
			ev.Seal(t.Receiver, c.now())
			return ev
		}
		plan := benchRouter(b, 0, false)
		for b.Loop() {
			if fired, _, err := st.FireTimers(ctx, 256, mk, plan, nil); err != nil || len(fired) == 0 {
				b.Fatal(len(fired), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/timer")
	})
}
