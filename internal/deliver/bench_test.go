package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
)

// rssMiB reads the resident set size of this process.
func rssMiB(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkPendingMemory holds 100,000 pending deliveries (50,000 events ×
// 2 sinks) in the store while the workers run against a sink that keeps
// failing, and reports the process's resident memory. Run with -benchtime=1x.
func BenchmarkPendingMemory(b *testing.B) {
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "sb.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const events = 50_000
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ev := &event.Event{Source: "telesign", Type: "sms", Subject: fmt.Sprintf("%032X", i), Status: "failure", Final: true,
					Code: 211, Description: "Permanent phone error", DedupKey: strconv.Itoa(i),
					Data: map[string]any{"reference_id": fmt.Sprintf("%032X", i), "errors": []any{}, "sub_resource": "sms"}}
				ev.Seal("telesign", time.Now())
				if _, err := st.Ingest(context.Background(), []*event.Event{ev}, func(ev *event.Event) rules.Result {
					return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "down", Title: ev.Title(), Text: ev.Text()}, {Rule: "r", Sink: "slow", Title: ev.Title(), Text: ev.Text()}}}
				}, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < events; i++ {
		work <- i
	}
	close(work)
	wg.Wait()

	down := funcSink{send: func(ctx context.Context, m *sinks.Message) error { return errors.New("connection refused") }}
	slow := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	d := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	d.Update([]Target{
		{Name: "down", Sink: down, Delivery: fastDelivery(1000)},
		{Name: "slow", Sink: slow, Delivery: fastDelivery(1000)},
	})
	b.ResetTimer()
	for b.Loop() {
		time.Sleep(3 * time.Second) // let the workers churn through retries
	}
	b.StopTimer()
	rss := rssMiB(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	d.Stop(ctx)
	cancel()
	pending, _ := st.List(context.Background(), store.Filter{State: store.StatePending, Limit: 200_000})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(len(pending)), "pending")
	b.ReportMetric(rss, "RSS-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(0, "ns/op")
}
