package deliver

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/store"
)

// ledger records the outcomes of attempts in the store in batches, off the
// senders' path: a sender hands its outcome over and takes the next
// delivery while the last ones commit, and one commit records every outcome
// that came in meanwhile. An outcome that was not recorded (the process
// died, the store failed) leaves its delivery leased: the lease expires and
// the delivery is sent again, so a delivery is never marked delivered
// without a send, and never lost.
type ledger struct {
	st      *store.Store
	log     *slog.Logger
	observe func(sink string, o store.Outcome)

	mu       sync.Mutex
	pending  []entry
	releases []release
	more     chan struct{} // signalled when pending or releases grew
	quit     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// entry is one outcome waiting to be recorded.
type entry struct {
	w  *worker
	dl *store.Delivery
	o  store.Outcome
}

// release is a lease to give back, and the worker to tell (nil if none).
type release struct {
	w  *worker
	dl *store.Delivery
}

// maxLedgerBatch bounds the outcomes recorded in one transaction.
const maxLedgerBatch = 1024

func newLedger(st *store.Store, log *slog.Logger, observe func(string, store.Outcome)) *ledger {
	l := &ledger{st: st, log: log, observe: observe, more: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

func (l *ledger) signal() {
	select {
	case l.more <- struct{}{}:
	default:
	}
}

// record queues the outcome of an attempt.
func (l *ledger) record(w *worker, dl *store.Delivery, o store.Outcome) {
	l.mu.Lock()
	l.pending = append(l.pending, entry{w, dl, o})
	l.mu.Unlock()
	l.signal()
}

// release queues the lease of a delivery that will not be attempted here;
// once it is given back, w (if not nil) claims it again.
func (l *ledger) release(w *worker, dl *store.Delivery) {
	l.mu.Lock()
	l.releases = append(l.releases, release{w, dl})
	l.mu.Unlock()
	l.signal()
}

// close records what is queued and stops; a second call does nothing.
func (l *ledger) close() {
	l.once.Do(func() { close(l.quit) })
	<-l.done
}

func (l *ledger) loop() {
	defer close(l.done)
	for {
		select {
		case <-l.more:
		case <-l.quit:
			for l.flush() {
			}
			return
		}
		for l.flush() {
		}
	}
}

// flush records one batch; false when there was nothing to record.
func (l *ledger) flush() bool {
	l.mu.Lock()
	n := min(len(l.pending), maxLedgerBatch)
	batch := l.pending[:n:n]
	l.pending = l.pending[n:]
	if len(l.pending) == 0 {
		l.pending = nil
	}
	rel := l.releases
	l.releases = nil
	l.mu.Unlock()
	if n == 0 && len(rel) == 0 {
		return false
	}
	// Record even while stopping: the outcomes are real.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(rel) > 0 {
		dls := make([]*store.Delivery, len(rel))
		for i, r := range rel {
			dls[i] = r.dl
		}
		if err := l.st.Release(ctx, dls...); err != nil {
			l.log.Warn("release deliveries", "deliveries", len(rel), "err", err)
		}
		for _, r := range rel {
			if r.w != nil {
				r.w.backlog.Store(true)
				r.w.poke()
			}
		}
	}
	if n == 0 {
		return true
	}
	outcomes := make([]store.Outcome, n)
	for i, e := range batch {
		outcomes[i] = e.o
	}
	if err := l.st.Finish(ctx, outcomes...); err != nil {
		// The leases expire and the deliveries are tried again: at least
		// once.
		l.log.Error("record delivery outcomes", "deliveries", n, "err", err)
	}
	for _, e := range batch {
		if e.dl.ThreadKey != "" && e.o.State != store.StatePending {
			// The next message of its thread may be claimed now.
			e.w.backlog.Store(true)
			e.w.poke()
		}
		e.w.report(e.dl, e.o)
		if l.observe != nil {
			l.observe(e.w.name, e.o)
		}
	}
	return true
}
