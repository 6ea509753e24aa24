package deliver

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/sinks"
)

// ratedSink is a sink limited to rate messages per second.
type ratedSink struct {
	funcSink
	rate float64
}

func (r ratedSink) Rate() float64 { return r.rate }

// The queue holds what the senders get through in queueSpan at the sink's
// recent time per send: a claim batch until the first send, then more for
// a fast sink, never more than maxQueue, and what a rate-limited sink may
// send in a quarter of its lease margin. A very slow sink's claim batch is
// what its senders send in half the lease margin (here 20 s).
func TestQueueCapacity(t *testing.T) {
	d := New(nil, slog.New(slog.DiscardHandler), Options{LeaseMargin: 40 * time.Second})
	defer d.Stop(context.Background())
	target := func(conc int, s sinks.Sink) *Target {
		return &Target{Name: "s", Sink: s, Delivery: config.Delivery{Concurrency: conc}.WithDefaults()}
	}
	plain := funcSink{}
	for _, tc := range []struct {
		name     string
		t        *Target
		sendTime time.Duration // 0: no send yet
		want     int64
	}{
		{"no send yet", target(16, plain), 0, 128},
		{"one sender, no send yet", target(1, plain), 0, 16},
		{"fast local sink", target(16, plain), 2 * time.Millisecond, 16 * 125},
		{"very fast sink", target(16, plain), 100 * time.Microsecond, maxQueue},
		{"slow sink keeps a claim batch", target(16, plain), time.Second, 128},
		{"very slow sink: what it sends in half the margin", target(16, plain), 10 * time.Second, 32},
		{"rate-limited", target(4, ratedSink{plain, 1}), time.Millisecond, 10},
	} {
		w := newWorker(d, *tc.t)
		if tc.sendTime > 0 {
			w.sendTime.Store(int64(tc.sendTime))
		}
		if got := w.capacity(tc.t); got != tc.want {
			t.Errorf("%s: capacity %d, want %d", tc.name, got, tc.want)
		}
	}

	// The recent time per send follows the sends.
	w := newWorker(d, *target(16, plain))
	w.sent(time.Second)
	for range 200 {
		w.sent(time.Millisecond)
	}
	if got := time.Duration(w.sendTime.Load()); got < time.Millisecond || got > 2*time.Millisecond {
		t.Errorf("after 200 sends of 1 ms following one of 1 s, time per send = %v, want about 1 ms", got)
	}
}

// While a fast sink's senders are busy, intake hands over a burst of
// deliveries far larger than a claim batch instead of leaving them in the
// store, where they would wait for the queue to run low behind later ones;
// all are then sent once.
func TestBurstIsHandedOver(t *testing.T) {
	st := openStore(t)
	var log sendLog
	release := make(chan struct{})
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		select {
		case <-release:
		case <-ctx.Done(): // the test failed and stops the dispatcher
			return ctx.Err()
		}
		log.add(m.DeliveryID)
		return nil
	}}
	d := start(t, st, Target{Name: "api", Sink: sink, Delivery: config.Delivery{Concurrency: 2}.WithDefaults()})
	w := (*d.byName.Load())["api"]
	w.sent(time.Millisecond) // as after sends to a local endpoint: 2 × 250 ms / 1 ms = 500
	counted := &countingHandoff{Dispatcher: d}
	const n = 300
	ingestVia(t, st, counted, n, "api")
	if got, refused := counted.ok.Load(), counted.refused.Load(); got != n || refused != 0 {
		t.Errorf("handed over %d of %d deliveries, %d refused; want all (a claim batch is %d)", got, n, refused, w.claimBatch(w.target.Load()))
	}
	close(release)
	for _, dl := range waitDelivered(t, st, "api", n) {
		if got := log.get(dl.ID); got != 1 || dl.Attempts != 1 {
			t.Errorf("%s: %d sends, %d attempts; want 1 and 1", dl.ID, got, dl.Attempts)
		}
	}
}

// countingHandoff counts the reservations the dispatcher grants and refuses.
type countingHandoff struct {
	*Dispatcher
	ok, refused atomic.Int64
}

func (c *countingHandoff) Reserve(sink string) (time.Duration, bool) {
	lease, ok := c.Dispatcher.Reserve(sink)
	if ok {
		c.ok.Add(1)
	} else {
		c.refused.Add(1)
	}
	return lease, ok
}

// Deliveries given back for their lease are logged at most once a second,
// each line with how many were given back since the last.
func TestGivenBackLogIsBounded(t *testing.T) {
	var buf strings.Builder
	d := New(nil, slog.New(slog.NewTextHandler(&buf, nil)), Options{})
	defer d.Stop(context.Background())
	w := newWorker(d, Target{Name: "api", Sink: funcSink{}, Delivery: config.Delivery{}.WithDefaults()})
	at := time.Unix(1_800_000_000, 0)
	dl := &store.Delivery{ID: "dlv_1", LeaseUntil: at}
	for i := range 4000 {
		w.gaveBack(dl, at.Add(time.Duration(i)*time.Millisecond)) // 4 s
	}
	var counts []string
	for line := range strings.Lines(buf.String()) {
		_, n, _ := strings.Cut(line, "given_back=")
		counts = append(counts, strings.TrimSpace(n))
	}
	// At 0 s the first; at 1, 2 and 3 s each the 1,000 since.
	if want := []string{"1", "1000", "1000", "1000"}; !slices.Equal(counts, want) {
		t.Errorf("given_back per line = %q, want %q; log:\n%s", counts, want, buf.String())
	}
}

// A sink that was fast, so its queue is long, then hangs: the queued
// deliveries whose leases run out are given back, not sent late, with a
// bounded number of log lines, and once the endpoint answers again every
// delivery is delivered, each by one successful send.
func TestHungEndpointAfterFastSends(t *testing.T) {
	st := openStore(t)
	var log sendLog
	var hung atomic.Bool
	hung.Store(true)
	gate := make(chan struct{}) // holds the senders until the queue is full
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		if hung.Load() {
			<-ctx.Done() // the attempt's timeout
			return ctx.Err()
		}
		log.add(m.DeliveryID)
		return nil
	}}
	var buf testutil.SyncBuffer
	d := New(st, slog.New(slog.NewTextHandler(&buf, nil)), Options{Poll: 20 * time.Millisecond})
	defer d.Stop(context.Background())
	d.Update([]Target{{Name: "api", Sink: sink, Delivery: config.Delivery{
		Concurrency: 2, Timeout: config.Duration(50 * time.Millisecond), LeaseMargin: config.Duration(400 * time.Millisecond),
		Retry: config.Retry{MaxAttempts: 1000, InitialBackoff: config.Duration(10 * time.Millisecond), MaxBackoff: config.Duration(40 * time.Millisecond)},
	}.WithDefaults()}})
	w := (*d.byName.Load())["api"]
	w.sent(100 * time.Microsecond) // fast so far: the queue takes thousands
	counted := &countingHandoff{Dispatcher: d}
	const n = 1000
	ingestVia(t, st, counted, n, "api")
	// Intake stops handing over once a delivery waited a quarter of the
	// lease margin in the queue: on a loaded machine the senders may take
	// the first ones that late.
	handed := counted.ok.Load()
	if handed <= w.claimBatch(w.target.Load()) {
		t.Logf("only %d of %d handed over on this loaded machine", handed, n)
	}
	close(gate)                        // the endpoint hangs
	time.Sleep(600 * time.Millisecond) // the leases of the queued deliveries run out
	hung.Store(false)
	for _, dl := range waitDelivered(t, st, "api", n) {
		if got := log.get(dl.ID); got != 1 {
			t.Errorf("%s: %d successful sends, want 1", dl.ID, got)
		}
	}
	// Senders that hang 50 ms per send take 2 × 400 / 50 = 16 deliveries
	// within the margin: of a long queue, most are given back.
	lines := strings.Count(buf.String(), "giving it back")
	if lines > 12 || handed >= 100 && lines == 0 {
		t.Errorf("%d of %d handed over, %d lines about deliveries given back; want a few lines (at most one a second):\n%s", handed, n, lines, buf.String())
	}
}
