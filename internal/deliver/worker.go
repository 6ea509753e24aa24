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

// worker delivers the deliveries of one sink. Deliveries leased to this
// process wait in queue: fresh ones handed over by intake (Reserve, Take),
// others claimed from the store by run (retries coming due, a backlog, an
// instance that died). Concurrency senders take them from the queue, so a
// send never waits for a claim, and hand each outcome to the dispatcher's
// recorder, so a sender never waits for a commit either.
type worker struct {
	d      *Dispatcher
	name   string
	target atomic.Pointer[Target]
	log    *slog.Logger
	wake   chan struct{} // pokes run: deliveries may be due in the store
	ctx    context.Context
	cancel context.CancelFunc

	queue    chan *store.Delivery
	reserved atomic.Int64 // deliveries queued plus reservations not yet taken
	// waited is how long the last delivery a sender took had waited in
	// the queue, in nanoseconds: intake stops handing over when the queue
	// no longer moves fast enough for a delivery to keep its lease.
	waited atomic.Int64
	// sendTime is the sink's recent time per send in nanoseconds (0 until
	// the first send), which sizes the queue.
	sendTime atomic.Int64
	// givenBack counts the deliveries given back for their lease since the
	// last line logged about them, at givenBackLog (unix nanoseconds).
	givenBack    atomic.Int64
	givenBackLog atomic.Int64
	// backlog is set when the store may hold due deliveries of this sink
	// that are not leased: intake stored some without a handover, or a
	// claim came back full.
	backlog atomic.Bool

	senders sync.WaitGroup
	alive   atomic.Int64 // senders running
	want    atomic.Int64 // senders wanted: the sink's concurrency
	// resized is closed when the concurrency dropped, to wake idle senders.
	resized    atomic.Pointer[chan struct{}]
	failures   int       // consecutive failed claims
	lastResume time.Time // last look for held deliveries (run's goroutine)
	rateMu     sync.Mutex
	nextStart  time.Time // rate limit: earliest start of the next send
}

// maxQueue bounds the queue of one sink, whatever its concurrency.
const maxQueue = 4096

func newWorker(d *Dispatcher, t Target) *worker {
	w := &worker{d: d, name: t.Name, log: d.log.With("sink", t.Name), wake: make(chan struct{}, 1),
		queue: make(chan *store.Delivery, maxQueue)}
	w.target.Store(&t)
	w.ctx, w.cancel = context.WithCancel(d.ctx)
	w.backlog.Store(true) // whatever the store holds from before
	ch := make(chan struct{})
	w.resized.Store(&ch)
	return w
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) stop() { w.cancel() }

// capacity is how many deliveries may wait in the queue: what the
// senders, at the sink's recent time per send, get through in queueSpan,
// so a delivery handed over waits well within its lease; at least a claim
// batch, at most maxQueue. A rate-limited sink holds what it may send in a
// quarter of the lease margin.
//
// The queue must not be smaller than need be: a delivery intake cannot
// hand over stays in the store, and run claims it only when the queue runs
// low, behind every one handed over meanwhile. With 8 per sender, at full
// load on a local webhook 1 % of deliveries waited 0.2–0.7 s that way.
func (w *worker) capacity(t *Target) int64 {
	c := w.claimBatch(t)
	if d := w.sendTime.Load(); d > 0 {
		c = max(c, int64(t.Delivery.Concurrency)*int64(queueSpan)/d)
	}
	if r, ok := t.Sink.(rated); ok && r.Rate() > 0 {
		c = max(1, min(c, int64(r.Rate()*w.margin(t).Seconds()/4)))
	}
	return min(c, maxQueue)
}

// queueSpan is how long the senders should take to empty a full queue.
const queueSpan = 250 * time.Millisecond

// claimBatch is the most deliveries one claim takes from the store: enough
// to keep every sender busy between two claims, few enough that the claim
// holds the store's writer briefly and, for a slow sink, that its senders
// send them in half the lease margin, before their leases run out.
func (w *worker) claimBatch(t *Target) int64 {
	c := int64(max(16, 8*t.Delivery.Concurrency))
	if d := w.sendTime.Load(); d > 0 {
		c = min(c, max(1, int64(t.Delivery.Concurrency)*int64(w.margin(t)/2)/d))
	}
	return c
}

// sent folds the duration of one send into the sink's recent time per
// send (an exponentially weighted mean over about the last 16 sends).
// Senders update it concurrently; an update lost now and then does not
// matter.
func (w *worker) sent(d time.Duration) {
	d = max(d, time.Microsecond)
	old := w.sendTime.Load()
	if old == 0 {
		w.sendTime.Store(int64(d))
		return
	}
	w.sendTime.Store(old + (int64(d)-old)/16)
}

// reserve makes room in the queue for a delivery intake is about to store
// leased to this process.
func (w *worker) reserve() (time.Duration, bool) {
	if w.ctx.Err() != nil {
		return 0, false
	}
	t := w.target.Load()
	if time.Duration(w.waited.Load()) > w.margin(t)/4 {
		return 0, false // the queue moves slowly: let the store hold them
	}
	if w.reserved.Add(1) > w.capacity(t) {
		w.reserved.Add(-1)
		return 0, false
	}
	return w.lease(t), true
}

// take queues deliveries that were reserved and are now committed.
func (w *worker) take(ds []*store.Delivery) {
	for _, dl := range ds {
		w.queue <- dl // never blocks: reserved bounds the queue below maxQueue
	}
}

// run claims due deliveries from the store into the queue and keeps the
// senders at the sink's concurrency, until the worker stops. Then it gives
// back what is still queued.
func (w *worker) run() {
	defer w.release()
	defer w.senders.Wait()
	for w.ctx.Err() == nil {
		t := w.target.Load()
		w.resize(t)
		free := min(w.capacity(t)-w.reserved.Load(), w.claimBatch(t))
		// Claim when the store may hold work and the queue has run low
		// (below one round of sends), not for every delivery taken.
		low := w.reserved.Load() <= int64(t.Delivery.Concurrency)
		got, asked := 0, 0
		if free > 0 && low && w.backlog.Load() {
			asked = int(free)
			w.reserved.Add(free)
			ds, err := w.claim(t, asked)
			w.reserved.Add(int64(len(ds)) - free)
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
			w.take(ds)
			if got == asked {
				continue // there may be more due right now
			}
			w.backlog.Store(false)
		}
		w.idle(asked > 0)
	}
}

// resize starts senders up to the sink's concurrency; those above it end
// after their current send.
func (w *worker) resize(t *Target) {
	n := int64(t.Delivery.Concurrency)
	if w.want.Swap(n) > n {
		ch := make(chan struct{})
		if old := w.resized.Swap(&ch); old != nil {
			close(*old)
		}
	}
	for w.alive.Load() < n {
		w.alive.Add(1)
		w.senders.Add(1)
		go func() {
			defer w.senders.Done()
			w.sender()
		}()
	}
}

// surplus reports whether a sender is one too many, and if so counts it
// gone: it must end.
func (w *worker) surplus() bool {
	for {
		a := w.alive.Load()
		if a <= w.want.Load() {
			return false
		}
		if w.alive.CompareAndSwap(a, a-1) {
			return true
		}
	}
}

// sender sends queued deliveries one at a time until the worker stops or
// it is one more than the sink's concurrency.
func (w *worker) sender() {
	defer func() {
		if w.ctx.Err() != nil {
			w.alive.Add(-1)
		}
	}()
	for !w.surplus() {
		var resized <-chan struct{}
		if ch := w.resized.Load(); ch != nil {
			resized = *ch
		}
		select {
		case dl := <-w.queue:
			w.reserved.Add(-1)
			w.waited.Store(int64(w.d.opts.Now().Sub(dl.UpdatedAt)))
			if w.reserved.Load() <= w.want.Load() && w.backlog.Load() {
				w.poke()
			}
			w.send(dl)
		case <-resized:
		case <-w.ctx.Done():
			return
		}
	}
}

// release gives back the leases of queued deliveries at stop.
func (w *worker) release() {
	var left []*store.Delivery
	for {
		select {
		case dl := <-w.queue:
			left = append(left, dl)
			continue
		default:
		}
		break
	}
	if len(left) == 0 {
		return
	}
	w.reserved.Add(-int64(len(left)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.d.st.Release(ctx, left...); err != nil {
		w.log.Warn("release queued deliveries", "deliveries", len(left), "err", err)
	}
}

// maxClaimBackoff caps the wait between claims while the store fails.
const maxClaimBackoff = 10 * time.Second

// lease is how long a claim holds a delivery: longer than any attempt, so
// no other worker (of this or another instance) takes it while it is
// sent; after a crash, how long until another one does.
func (w *worker) lease(t *Target) time.Duration {
	return time.Duration(t.Delivery.Timeout) + w.margin(t)
}

func (w *worker) margin(t *Target) time.Duration {
	if m := time.Duration(t.Delivery.LeaseMargin); m > 0 {
		return m
	}
	return w.d.opts.LeaseMargin
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

// idle waits for a poke, the next due delivery or the poll interval; after
// the poll interval the store is looked at again in any case.
func (w *worker) idle(drained bool) {
	wait := w.d.opts.Poll
	if drained {
		if next, err := w.nextDue(); err == nil && !next.IsZero() {
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
		w.backlog.Store(true)
		w.resumeHeld()
	case <-w.ctx.Done():
	}
}

// resumeHeld takes back the sink's held deliveries, at most every
// Options.ResumeHeld.
func (w *worker) resumeHeld() {
	now := w.d.opts.Now()
	if now.Sub(w.lastResume) < w.d.opts.ResumeHeld {
		return
	}
	w.lastResume = now
	n, err := w.d.st.ResumeHeld(w.ctx, w.name)
	if err != nil {
		w.log.Warn("resume held deliveries", "err", err)
		return
	}
	if n > 0 {
		w.log.Info("held deliveries resumed: this instance has their sink", "deliveries", n)
	}
}

// waitRate spaces sends by the sink's rate; false when stopping.
func (w *worker) waitRate(t *Target) bool {
	r, ok := t.Sink.(rated)
	if !ok || r.Rate() <= 0 {
		return true
	}
	w.rateMu.Lock()
	now := w.d.opts.Now()
	start := now
	if w.nextStart.After(now) {
		start = w.nextStart
	}
	w.nextStart = start.Add(time.Duration(float64(time.Second) / r.Rate()))
	w.rateMu.Unlock()
	if wait := start.Sub(now); wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-w.ctx.Done():
			return false
		}
	}
	return true
}

// send makes one attempt at dl under the sink's current settings and hands
// the outcome to the recorder. A delivery whose lease no longer covers a
// whole attempt is given back instead: another claim sends it, and no two
// sends of one delivery overlap.
func (w *worker) send(dl *store.Delivery) {
	t := w.target.Load()
	if !w.waitRate(t) {
		w.d.ledger.release(w, dl)
		return
	}
	start := w.d.opts.Now()
	timeout := time.Duration(t.Delivery.Timeout)
	if dl.LeaseUntil.Sub(start) < timeout {
		w.gaveBack(dl, start)
		w.d.ledger.release(w, dl)
		return
	}
	err := w.attempt(t, dl, timeout)
	w.sent(w.d.opts.Now().Sub(start))
	o := decide(t.Delivery.Retry, err, dl.Attempts, dl.QueuedAt, w.d.opts.Now(), w.d.opts.Rand)
	o.ID, o.Lease, o.Started, o.Duration = dl.ID, dl.Lease, start, w.d.opts.Now().Sub(start)
	w.d.ledger.record(w, dl, o)
}

// gaveBack logs a delivery given back because its lease no longer covers
// an attempt: the first of a run at once, then at most one line a second
// with how many were given back since the last line. A queue filled while
// the sink was fast and then stuck behind a hung endpoint gives back
// thousands at once.
func (w *worker) gaveBack(dl *store.Delivery, now time.Time) {
	n := w.givenBack.Add(1)
	last := w.givenBackLog.Load()
	if now.UnixNano()-last < int64(time.Second) || !w.givenBackLog.CompareAndSwap(last, now.UnixNano()) {
		return // counted, for the next line
	}
	w.givenBack.Add(-n)
	w.log.Warn("lease too short for an attempt, giving it back", "delivery", dl.ID, "lease_left", dl.LeaseUntil.Sub(now), "given_back", n)
}

func (w *worker) attempt(t *Target, dl *store.Delivery, timeout time.Duration) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink panicked: %v", p)
		}
	}()
	ev := dl.Event
	if ev == nil {
		if ev, err = event.Decode(dl.EventJSON); err != nil {
			return sinks.Permanent(err)
		}
	}
	ctx, cancel := context.WithTimeout(w.d.sendCtx, timeout)
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
		Thread:     dl.ThreadKey,
	})
}

// report logs the outcome of an attempt once it is recorded.
func (w *worker) report(dl *store.Delivery, o store.Outcome) {
	if o.State == store.StateDelivered && !w.log.Enabled(context.Background(), slog.LevelInfo) {
		return // the common line, not written at --log-level warn: build nothing
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
