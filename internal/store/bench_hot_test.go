package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// takeAll is a Handoff that accepts every delivery and collects them.
type takeAll struct {
	mu sync.Mutex
	ds []*Delivery
}

func (h *takeAll) Reserve(string) (time.Duration, bool) { return time.Minute, true }
func (h *takeAll) Unreserve(string)                     {}
func (h *takeAll) Take(ds []*Delivery) {
	h.mu.Lock()
	h.ds = append(h.ds, ds...)
	h.mu.Unlock()
}

// BenchmarkHotPath is the store's share of one callback on the hot path:
// its intake with one delivery handed over, from 64 concurrent callers as
// the server makes them, and the outcome of that delivery recorded in
// batches as the delivery ledger does. ns/op is the writer's cost per
// callback when it is the bottleneck.
func BenchmarkHotPath(b *testing.B) {
	st, err := Open(context.Background(), filepath.Join(b.TempDir(), "hot.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	plan := func(ev *event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "all", Sink: "api", Title: ev.Title(), Text: ev.Text()}}, Matched: []string{"all"}}
	}
	h := &takeAll{}
	done := make(chan struct{})
	finished := make(chan int)
	go func() {
		total := 0
		defer func() { finished <- total }()
		last := false
		for {
			h.mu.Lock()
			ds := h.ds
			h.ds = nil
			h.mu.Unlock()
			if len(ds) == 0 {
				if last {
					return
				}
				select {
				case <-done:
					last = true // one more look: the last intakes may just have ended
				case <-time.After(time.Millisecond):
				}
				continue
			}
			outs := make([]Outcome, len(ds))
			for i, d := range ds {
				outs[i] = Outcome{ID: d.ID, Lease: d.Lease, State: StateDelivered, Started: time.Now()}
			}
			if err := st.Finish(context.Background(), outs...); err != nil {
				b.Error(err)
				return
			}
			total += len(outs)
		}
	}()
	var n atomic.Int64
	b.SetParallelism(32)
	written := bytesWritten(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			ev := &event.Event{Source: "interfax", Type: "fax.outbound", Subject: fmt.Sprint(1000000 + i), Status: "success", Final: true,
				Description: "OK", DedupKey: fmt.Sprint(i), Data: map[string]any{"DestinationFax": "0012125551234", "PagesSent": 2}}
			ev.Seal("interfax", time.Now())
			if _, err := st.Ingest(ctx, []*event.Event{ev}, plan, h); err != nil {
				b.Error(err)
				return
			}
		}
	})
	close(done)
	if got := <-finished; got != b.N {
		b.Errorf("finished %d of %d", got, b.N)
	}
	if w := bytesWritten(b); w >= 0 {
		// What the disk must take per callback (log frames and the
		// checkpoints' copies), a figure the machine's noise does not move.
		b.ReportMetric(float64(w-written)/float64(b.N), "B-written/op")
	}
}

// bytesWritten is what this process has passed to write calls so far
// (Linux's /proc/self/io wchar), or -1 where that is not known.
func bytesWritten(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	return -1
}
