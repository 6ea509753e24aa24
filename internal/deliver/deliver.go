// Package deliver runs the delivery workers: one per sink, each taking its
// deliveries under a lease (handed over by intake, or claimed from the
// store), sending them, and recording every outcome, so one slow or failing
// sink never holds up another.
package deliver

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/sinks"
)

// Target is one configured sink with its delivery settings.
type Target struct {
	Name     string
	Sink     sinks.Sink
	Delivery config.Delivery // with defaults applied
	// Threaded is set for a sink that threads its messages (a Slack sink
	// with thread:): its deliveries of one thread are claimed in order.
	Threaded bool
}

// Options tune the dispatcher. Zero values mean the defaults.
type Options struct {
	// Poll is how often an idle worker looks for due deliveries it was not
	// told about (retries coming due, expired leases, other instances).
	// Zero means 1s.
	Poll time.Duration
	// LeaseMargin is added to a sink's timeout to make the claim lease, so
	// a lease outlives any attempt of a live worker. Zero means 30s.
	LeaseMargin time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Rand returns a number in [0, 1) for jitter. Nil means math/rand.
	Rand func() float64
	// ResumeHeld is how often an idle worker looks for deliveries of its
	// sink held as no_sink by an instance whose configuration lacks the
	// sink (Postgres, during a rolling configuration change). Zero means
	// 10s.
	ResumeHeld time.Duration
	// Observe, if set, is called after every attempt (metrics).
	Observe func(sink string, o store.Outcome)
}

// Dispatcher owns the workers.
type Dispatcher struct {
	st   *store.Store
	log  *slog.Logger
	opts Options

	mu      sync.Mutex
	workers map[string]*worker
	// byName is a copy of workers for the intake's handover (Reserve,
	// Take), read without the lock.
	byName  atomic.Pointer[map[string]*worker]
	ledger  *ledger
	ctx     context.Context // cancelled by Stop: no new claims
	cancel  context.CancelFunc
	sendCtx context.Context // cancelled when Stop's grace period ends
	abort   context.CancelFunc
	wg      sync.WaitGroup
}

// New returns a dispatcher with no workers; Update starts them.
func New(st *store.Store, log *slog.Logger, opts Options) *Dispatcher {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.LeaseMargin <= 0 {
		opts.LeaseMargin = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ResumeHeld <= 0 {
		opts.ResumeHeld = 10 * time.Second
	}
	if opts.Rand == nil {
		opts.Rand = defaultRand
	}
	d := &Dispatcher{st: st, log: log, opts: opts, workers: map[string]*worker{}}
	d.byName.Store(&map[string]*worker{})
	d.ledger = newLedger(st, log, opts.Observe)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.sendCtx, d.abort = context.WithCancel(context.Background())
	return d
}

// Update makes the workers match targets: new sinks get a worker, removed
// sinks' workers stop (their pending deliveries stay in the store), and a
// sink that stays under the same name gets its new settings for every
// attempt from now on, including retries of older deliveries.
func (d *Dispatcher) Update(targets []Target) {
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := map[string]bool{}
	for _, t := range targets {
		t := t
		keep[t.Name] = true
		if w, ok := d.workers[t.Name]; ok {
			w.target.Store(&t)
			w.poke()
			continue
		}
		if d.ctx.Err() != nil {
			continue // stopping
		}
		w := newWorker(d, t)
		d.workers[t.Name] = w
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			w.run()
		}()
	}
	for name, w := range d.workers {
		if !keep[name] {
			w.stop()
			delete(d.workers, name)
		}
	}
	byName := make(map[string]*worker, len(d.workers))
	for name, w := range d.workers {
		byName[name] = w
	}
	d.byName.Store(&byName)
}

// Reserve makes room in a sink's queue for a delivery intake is about to
// store leased to this process (store.Handoff).
func (d *Dispatcher) Reserve(sink string) (time.Duration, bool) {
	if w := (*d.byName.Load())[sink]; w != nil {
		return w.reserve()
	}
	return 0, false
}

// Unreserve gives back a reservation intake did not use.
func (d *Dispatcher) Unreserve(sink string) {
	if w := (*d.byName.Load())[sink]; w != nil {
		w.reserved.Add(-1)
	}
}

// Take queues committed deliveries that intake stored leased to this
// process. Those of a sink whose worker stopped meanwhile are given back.
func (d *Dispatcher) Take(ds []*store.Delivery) {
	byName := *d.byName.Load()
	for i, dl := range ds {
		w := byName[dl.Sink]
		if w == nil || w.ctx.Err() != nil {
			if w != nil {
				w.reserved.Add(-1)
			}
			d.ledger.release(nil, dl)
			continue
		}
		w.take(ds[i : i+1])
	}
}

// Notify wakes the workers of sinks that just got deliveries to claim from
// the store (not handed over, or re-queued by a retry).
func (d *Dispatcher) Notify(sinkNames []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range sinkNames {
		if w, ok := d.workers[n]; ok {
			w.backlog.Store(true)
			w.poke()
		}
	}
}

// Stop stops claiming, lets in-flight sends finish until ctx is done, then
// cancels the rest (their outcomes are still recorded) and waits for every
// worker to end.
func (d *Dispatcher) Stop(ctx context.Context) {
	d.cancel()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		d.abort()
		<-done
	}
	d.abort()
	d.ledger.close()
}

var _ store.Handoff = (*Dispatcher)(nil)
