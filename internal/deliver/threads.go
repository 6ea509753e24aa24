package deliver

import (
	"time"

	"github.com/switchboard/switchboard/internal/store"
)

// A sink that threads its messages (Target.Threaded) has the messages of
// one thread sent in order: intake never hands its threaded deliveries
// over, the claim hands out only the first pending one of each thread, and
// recording its outcome wakes the worker for the next (ledger.flush).

// claim leases up to n due deliveries of the worker's sink.
func (w *worker) claim(t *Target, n int) ([]*store.Delivery, error) {
	if t.Threaded {
		return w.d.st.ClaimOrdered(w.ctx, w.name, n, w.lease(t))
	}
	return w.d.st.Claim(w.ctx, w.name, n, w.lease(t))
}

// nextDue is when the next delivery of the worker's sink is due; for a
// threaded sink, not counting those waiting for an earlier one of their
// thread (which would be due at once, again and again).
func (w *worker) nextDue() (time.Time, error) {
	if w.target.Load().Threaded {
		return w.d.st.NextDueOrdered(w.ctx, w.name)
	}
	return w.d.st.NextDue(w.ctx, w.name)
}
