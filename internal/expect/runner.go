package expect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// Config is what the runner follows of the configuration; it is swapped
// whole on reload.
type Config struct {
	Router *rules.Router
	// Grace holds due timers this long after the runner started, and after
	// the store last failed to answer (vendors got 503 and retry).
	Grace time.Duration
	// Traffic is each watched receiver's expect_traffic.
	Traffic map[string]time.Duration
}

// Hooks observe what the runner stored. Nil funcs are skipped.
type Hooks struct {
	// Fired is called for each timer that fired.
	Fired func(expectation string)
	// Stored is called with what each emission stored, once committed,
	// as intake reports a callback.
	Stored func(res *store.IngestResult)
}

// Runner fires due timers and watches receivers for silence, in one
// goroutine that wakes every Every.
type Runner struct {
	st      *store.Store
	log     *slog.Logger
	h       store.Handoff
	notify  func([]string)
	hooks   Hooks
	cfg     atomic.Pointer[Config]
	started time.Time // or when the store last failed to answer
	outage  bool      // the store failed to answer the timers' queries in this round
	now     func() time.Time

	// seen is the latest accepted callback per receiver (unix ms), as
	// noted by Saw; flushed the last one written.
	seen    sync.Map // string → *atomic.Int64
	flushed map[string]int64
	watched map[string]bool
}

// Every is how often the runner looks for due timers and silent receivers.
var Every = time.Second

// batch bounds the timers fired in one transaction.
const batch = 256

// New returns a runner storing into st; h takes the deliveries it creates
// (may be nil) and notify is told the sinks left to claim.
func New(st *store.Store, log *slog.Logger, h store.Handoff, notify func([]string), hooks Hooks) *Runner {
	return &Runner{st: st, log: log, h: h, notify: notify, hooks: hooks, now: time.Now,
		flushed: map[string]int64{}, watched: map[string]bool{}}
}

// Update installs the configuration for the next rounds.
func (r *Runner) Update(c *Config) { r.cfg.Store(c) }

// Saw notes a callback receiver accepted at at. It is cheap: intake calls
// it for every callback.
func (r *Runner) Saw(receiver string, at time.Time) {
	v, ok := r.seen.Load(receiver)
	if !ok {
		v, _ = r.seen.LoadOrStore(receiver, new(atomic.Int64))
	}
	n := v.(*atomic.Int64)
	if t := at.UnixMilli(); t > n.Load() {
		n.Store(t)
	}
}

// Start runs the runner until the returned stop is called; stop waits for
// the round in progress.
func (r *Runner) Start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	r.started = r.now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(Every)
		defer t.Stop()
		for {
			r.Round(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// Round does one round: receivers' traffic and silence, then due timers.
func (r *Runner) Round(ctx context.Context) {
	c := r.cfg.Load()
	if c == nil {
		return
	}
	// After a start, callbacks the vendors retry may still be on their
	// way: a final status that cancels a timer, a callback that shows a
	// receiver is not silent. So after the store failed to answer: intake
	// answered the vendors 503 meanwhile, and they retry.
	settled := r.now().Sub(r.started) >= c.Grace
	r.outage = false
	r.traffic(ctx, c, settled)
	r.fire(ctx, c, settled)
	if r.outage {
		r.started = r.now() // the grace counts again from the last failure
	}
}

// fire fires the due timers, if settled; it looks for one in any case,
// so that a store that does not answer holds the next expiries.
func (r *Runner) fire(ctx context.Context, c *Config, settled bool) {
	byName := map[string]*rules.Expectation{}
	for _, x := range c.Router.Expectations() {
		byName[x.Name] = x
	}
	for ctx.Err() == nil {
		due, err := r.st.TimersDue(ctx)
		if err != nil || !due || !settled {
			r.fail(err, "expectations: look for due timers")
			r.outage = r.outage || errors.Is(err, store.ErrUnavailable)
			return
		}
		now := r.now()
		fired, res, err := r.st.FireTimers(ctx, batch, func(t store.Timer) *event.Event {
			x := byName[t.Expectation]
			if x == nil {
				return nil // removed from the configuration: nothing is expected any more
			}
			return Missed(t, x, now)
		}, c.Router.Route, r.h)
		if err != nil {
			r.fail(err, "expectations: fire timers")
			r.outage = errors.Is(err, store.ErrUnavailable)
			return
		}
		for _, t := range fired {
			late := now.Sub(t.DueAt)
			attrs := []any{"expectation", t.Expectation, "source", t.Source, "subject", t.Subject, "started_at", t.StartedAt}
			if byName[t.Expectation] == nil {
				r.log.Info("timer of an expectation no longer configured dropped", attrs...)
				continue
			}
			if late > 2*Every {
				r.log.Warn("expectation missed, fired late (switchboard was not running or behind)", append(attrs, "late", late)...)
			} else {
				r.log.Info("expectation missed", attrs...)
			}
			if r.hooks.Fired != nil {
				r.hooks.Fired(t.Expectation)
			}
		}
		r.stored(res)
		if len(fired) < batch {
			return
		}
	}
}

// traffic records each watched receiver's latest callback, emitting
// receiver.resumed for one that was silent, and, if judge, receiver.silent
// for one quiet for its expect_traffic.
func (r *Runner) traffic(ctx context.Context, c *Config, judge bool) {
	for name, quiet := range c.Traffic {
		if !r.watched[name] {
			if err := r.st.WatchTraffic(ctx, name); err != nil {
				r.fail(err, "expect_traffic: watch receiver", "receiver", name)
				continue
			}
			r.watched[name] = true
		}
		if v, ok := r.seen.Load(name); ok {
			if t := v.(*atomic.Int64).Load(); t > r.flushed[name] {
				at := time.UnixMilli(t).UTC()
				res, err := r.st.Traffic(ctx, name, at, func() *event.Event { return Resumed(name, at, r.now()) }, c.Router.Route, r.h)
				if err != nil {
					r.fail(err, "expect_traffic: record traffic", "receiver", name)
					continue
				}
				r.flushed[name] = t
				if res != nil {
					r.log.Info("receiver resumed: callbacks arrive again", "receiver", name)
					r.stored(res)
				}
				continue
			}
		}
		if !judge {
			continue
		}
		if due, err := r.st.QuietDue(ctx, name, quiet); err != nil || !due {
			r.fail(err, "expect_traffic: look for silence", "receiver", name)
			continue
		}
		res, err := r.st.Quiet(ctx, name, quiet, func(last time.Time) *event.Event { return Silent(name, last, quiet, r.now()) }, c.Router.Route, r.h)
		if err != nil {
			r.fail(err, "expect_traffic: mark silent", "receiver", name)
			continue
		}
		if res != nil {
			r.log.Warn("receiver silent: no accepted callback for expect_traffic", "receiver", name, "expect_traffic", quiet)
			r.stored(res)
		}
	}
}

func (r *Runner) stored(res *store.IngestResult) {
	if res == nil {
		return
	}
	if r.hooks.Stored != nil {
		r.hooks.Stored(res)
	}
	if len(res.Sinks) > 0 && r.notify != nil {
		r.notify(res.Sinks)
	}
}

func (r *Runner) fail(err error, msg string, attrs ...any) {
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Error(msg, append(attrs, "err", err)...)
	}
}
