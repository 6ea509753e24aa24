package deliver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/sinks"
)

// rated is implemented by sinks that must be spaced out (Slack): Rate is in
// messages per second.
type rated interface {
	Rate() float64
}

// worker delivers the deliveries of one sink.
type worker struct {
	d      *Dispatcher
	name   string
	target atomic.Pointer[Target]
	log    *slog.Logger
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	failures  int // consecutive failed claims
	inflight  sync.WaitGroup
	slots     chan struct{} // one token per send in flight
	nextStart time.Time     // rate limit: earliest start of the next send
}

func newWorker(d *Dispatcher, t Target) *worker {
	w := &worker{d: d, name: t.Name, log: d.log.With("sink", t.Name), wake: make(chan struct{}, 1)}
	w.target.Store(&t)
	w.ctx, w.cancel = context.WithCancel(d.ctx)
	w.slots = make(chan struct{}, t.Delivery.Concurrency)
	return w
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) stop() { w.cancel() }

func (w *worker) run() {
	defer w.inflight.Wait()
	for w.ctx.Err() == nil {
		free := cap(w.slots) - len(w.slots)
		t := w.target.Load()
		if r, ok := t.Sink.(rated); ok && r.Rate() > 0 {
			// Claim no more than can start soon, so claimed deliveries do
			// not sit out their lease waiting for the rate limit.
			free = min(free, max(1, int(r.Rate())))
		}
		got := 0
		if free > 0 {
			ds, err := w.d.st.Claim(w.ctx, w.name, free, w.lease(t))
			if err != nil && w.ctx.Err() == nil {
				// The database is unreachable: retry with backoff rather
				// than every poll, and log each retry once.
				w.failures++
				wait := min(w.d.opts.Poll<<min(w.failures-1, 5), maxClaimBackoff)
				w.log.Error("claim deliveries", "err", err, "failures", w.failures, "retry_in", wait)
				w.pause(wait)
				continue
			}
			w.failures = 0
			got = len(ds)
			for _, dl := range ds {
				if !w.waitRate(t) {
					// Stopping: the lease expires and the delivery is
					// claimed again after restart.
					break
				}
				w.slots <- struct{}{}
				w.inflight.Add(1)
				go func() {
					defer w.inflight.Done()
					defer func() { <-w.slots; w.poke() }()
					w.send(dl)
				}()
			}
			if got == free {
				continue // there may be more due right now
			}
		}
		w.idle(free > 0 && got < free)
	}
}

// maxClaimBackoff caps the wait between claims while the store fails.
const maxClaimBackoff = 10 * time.Second

// lease is how long a claim holds a delivery: longer than any attempt, so
// no other worker (of this or another instance) takes it while it is
// sent; after a crash, how long until another one does.
func (w *worker) lease(t *Target) time.Duration {
	margin := w.d.opts.LeaseMargin
	if m := time.Duration(t.Delivery.LeaseMargin); m > 0 {
		margin = m
	}
	return time.Duration(t.Delivery.Timeout) + margin
}

// pause waits for d or until the worker stops.
func (w *worker) pause(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-w.ctx.Done():
	}
}

// idle waits for a poke, the next due delivery or the poll interval.
func (w *worker) idle(drained bool) {
	wait := w.d.opts.Poll
	if drained {
		if next, err := w.d.st.NextDue(w.ctx, w.name); err == nil && !next.IsZero() {
			if until := next.Sub(w.d.opts.Now()); until < wait {
				wait = max(until, 10*time.Millisecond)
			}
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.wake:
	case <-timer.C:
	case <-w.ctx.Done():
	}
}

// waitRate spaces sends by the sink's rate; false when stopping.
func (w *worker) waitRate(t *Target) bool {
	r, ok := t.Sink.(rated)
	if !ok || r.Rate() <= 0 {
		return true
	}
	now := w.d.opts.Now()
	if wait := w.nextStart.Sub(now); wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-w.ctx.Done():
			return false
		}
		now = w.nextStart
	}
	w.nextStart = now.Add(time.Duration(float64(time.Second) / r.Rate()))
	return true
}

func (w *worker) send(dl *store.Delivery) {
	t := w.target.Load()
	start := w.d.opts.Now()
	err := w.attempt(t, dl)
	o := decide(t.Delivery.Retry, err, dl.Attempts, dl.QueuedAt, w.d.opts.Now(), w.d.opts.Rand)
	o.ID, o.Started, o.Duration = dl.ID, start, w.d.opts.Now().Sub(start)
	// Record even while stopping: the outcome is real.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ferr := w.d.st.Finish(ctx, o); ferr != nil {
		// The lease expires and the delivery is tried again: at least once.
		w.log.Error("record delivery outcome", "delivery", dl.ID, "err", ferr)
	}
	if w.d.opts.Observe != nil {
		w.d.opts.Observe(w.name, o)
	}
	attrs := []any{"delivery", dl.ID, "event", dl.EventID, "rule", dl.Rule, "attempt", dl.Attempts, "duration", o.Duration}
	switch o.State {
	case store.StateDelivered:
		w.log.Info("delivered", attrs...)
	case store.StateDead:
		w.log.Error("delivery dead", append(attrs, "status", o.Status, "err", o.Error)...)
	default:
		w.log.Warn("delivery failed, will retry", append(attrs, "status", o.Status, "err", o.Error, "next_attempt", o.NextAttemptAt)...)
	}
}

func (w *worker) attempt(t *Target, dl *store.Delivery) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink panicked: %v", p)
		}
	}()
	ev, err := event.Decode(dl.EventJSON)
	if err != nil {
		return sinks.Permanent(err)
	}
	ctx, cancel := context.WithTimeout(w.d.sendCtx, time.Duration(t.Delivery.Timeout))
	defer cancel()
	return t.Sink.Send(ctx, &sinks.Message{
		DeliveryID: dl.ID,
		Rule:       dl.Rule,
		Title:      dl.Title,
		Text:       dl.Text,
		Templated:  dl.Templated,
		Event:      ev,
		EventJSON:  dl.EventJSON,
		Attempt:    dl.Attempts,
	})
}
