package deliver

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
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
// send in a quarter of its lease margin.
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
		<-release
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
		t.Errorf("handed over %d of %d deliveries, %d refused; want all (a claim batch is %d)", got, n, refused, claimBatch(w.target.Load()))
	}
	close(release)
	expectSentOnce(t, st, &log, "api", n)
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
