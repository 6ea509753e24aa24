package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
)

// funcSink is a fake sink: a struct of func fields.
type funcSink struct {
	send func(ctx context.Context, m *sinks.Message) error
}

func (f funcSink) Send(ctx context.Context, m *sinks.Message) error { return f.send(ctx, m) }

// recorder records the messages a sink was asked to send.
type recorder struct {
	mu   sync.Mutex
	msgs []*sinks.Message
	at   []time.Time
}

func (r *recorder) add(m *sinks.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.at = append(r.at, time.Now())
	return len(r.msgs)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func fastDelivery(maxAttempts int) config.Delivery {
	return config.Delivery{Concurrency: 2, Timeout: config.Duration(2 * time.Second), Retry: config.Retry{
		MaxAttempts: maxAttempts, InitialBackoff: config.Duration(10 * time.Millisecond), MaxBackoff: config.Duration(40 * time.Millisecond),
	}}.WithDefaults()
}

func ingest(t *testing.T, st *store.Store, subject string, sinkNames ...string) {
	t.Helper()
	ev := &event.Event{Source: "test", Type: "test", Subject: subject, Status: "failure", Final: true, DedupKey: subject}
	ev.Seal("r", time.Now())
	_, err := st.Ingest(context.Background(), []*event.Event{ev}, func(ev *event.Event) rules.Result {
		var out []rules.Match
		for _, s := range sinkNames {
			out = append(out, rules.Match{Rule: "r", Sink: s, Title: ev.Title(), Text: ev.Text()})
		}
		return rules.Result{Matches: out}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, st *store.Store, targets ...Target) *Dispatcher {
	t.Helper()
	d := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Poll: 20 * time.Millisecond})
	d.Update(targets)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Stop(ctx)
	})
	return d
}

// waitFor waits up to 10 s for cond, failing the test if it never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !testutil.WaitFor(10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func state(t *testing.T, st *store.Store, sink string) *store.Delivery {
	t.Helper()
	ds, err := st.List(context.Background(), store.Filter{Sink: sink})
	if err != nil || len(ds) == 0 {
		t.Fatalf("list %s: %v %v", sink, ds, err)
	}
	return ds[0]
}

func TestRetryThenDeliver(t *testing.T) {
	st := openStore(t)
	var rec recorder
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		if rec.add(m) < 3 {
			return &sinks.Error{Err: errors.New("status 503"), Status: 503}
		}
		return nil
	}}
	ingest(t, st, "s1", "api")
	start(t, st, Target{Name: "api", Sink: sink, Delivery: fastDelivery(5)})
	waitFor(t, "delivered", func() bool { return state(t, st, "api").State == store.StateDelivered })
	d := state(t, st, "api")
	if d.Attempts != 3 || rec.count() != 3 {
		t.Fatalf("attempts = %d, sends = %d, want 3", d.Attempts, rec.count())
	}
	// The delivery id (webhook-id) is the same on every attempt.
	for i, m := range rec.msgs {
		if m.DeliveryID != d.ID || m.Attempt != i+1 || m.Event.Subject != "s1" {
			t.Errorf("attempt %d: id %s attempt %d subject %s", i, m.DeliveryID, m.Attempt, m.Event.Subject)
		}
	}
	_, atts, _ := st.Get(context.Background(), d.ID)
	if len(atts) != 3 || atts[0].Status != 503 || atts[2].Error != "" {
		t.Errorf("attempt history = %+v", atts)
	}
}

func TestDeadAfterMaxAttempts(t *testing.T) {
	st := openStore(t)
	var rec recorder
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		rec.add(m)
		return errors.New("connection refused")
	}}
	ingest(t, st, "s1", "api")
	start(t, st, Target{Name: "api", Sink: sink, Delivery: fastDelivery(3)})
	waitFor(t, "dead", func() bool { return state(t, st, "api").State == store.StateDead })
	d := state(t, st, "api")
	if d.Attempts != 3 || rec.count() != 3 || d.LastError != "gave up after 3 attempts: connection refused" {
		t.Fatalf("dead delivery = %+v, sends %d", d, rec.count())
	}
}

func TestPermanentIsDeadAtOnce(t *testing.T) {
	st := openStore(t)
	var rec recorder
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		rec.add(m)
		return sinks.Permanent(&sinks.Error{Err: errors.New("status 404"), Status: 404})
	}}
	ingest(t, st, "s1", "api")
	start(t, st, Target{Name: "api", Sink: sink, Delivery: fastDelivery(10)})
	waitFor(t, "dead", func() bool { return state(t, st, "api").State == store.StateDead })
	if d := state(t, st, "api"); d.Attempts != 1 || d.LastStatus != 404 || rec.count() != 1 {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	st := openStore(t)
	var rec recorder
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		if rec.add(m) == 1 {
			return &sinks.Error{Err: errors.New("status 429"), Status: 429, RetryAfter: 300 * time.Millisecond}
		}
		return nil
	}}
	ingest(t, st, "s1", "api")
	start(t, st, Target{Name: "api", Sink: sink, Delivery: fastDelivery(5)})
	waitFor(t, "delivered", func() bool { return state(t, st, "api").State == store.StateDelivered })
	if rec.count() != 2 {
		t.Fatalf("sends = %d, want 2", rec.count())
	}
	if gap := rec.at[1].Sub(rec.at[0]); gap < 300*time.Millisecond {
		t.Errorf("retried after %v, before the server's Retry-After of 300ms", gap)
	}
}

// A sink that hangs until its timeout does not hold up another sink.
func TestSlowSinkDoesNotDelayOthers(t *testing.T) {
	st := openStore(t)
	release := make(chan struct{})
	defer close(release)
	slow := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}}
	var fast recorder
	quick := funcSink{send: func(ctx context.Context, m *sinks.Message) error { fast.add(m); return nil }}
	for i := 0; i < 20; i++ {
		ingest(t, st, fmt.Sprint("s", i), "slow", "fast")
	}
	start(t, st,
		Target{Name: "slow", Sink: slow, Delivery: config.Delivery{Concurrency: 1, Timeout: config.Duration(time.Hour)}.WithDefaults()},
		Target{Name: "fast", Sink: quick, Delivery: fastDelivery(3)},
	)
	waitFor(t, "all fast deliveries", func() bool { return fast.count() == 20 })
	ds, _ := st.List(context.Background(), store.Filter{Sink: "slow", State: store.StatePending})
	if len(ds) != 20 {
		t.Errorf("slow sink pending = %d, want 20 (one in flight, none finished)", len(ds))
	}
}

// Deliveries left leased by a dead process are picked up after the lease.
func TestExpiredLeaseIsRedelivered(t *testing.T) {
	st := openStore(t)
	ingest(t, st, "s1", "api")
	// A "crashed" worker claimed it with a short lease and never finished.
	if ds, err := st.Claim(context.Background(), "api", 10, 200*time.Millisecond); err != nil || len(ds) != 1 {
		t.Fatalf("claim: %v %v", ds, err)
	}
	var rec recorder
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error { rec.add(m); return nil }}
	start(t, st, Target{Name: "api", Sink: sink, Delivery: fastDelivery(5)})
	waitFor(t, "redelivery", func() bool { return state(t, st, "api").State == store.StateDelivered })
	if d := state(t, st, "api"); d.Attempts != 2 || rec.count() != 1 {
		t.Errorf("delivery = %+v, sends %d", d, rec.count())
	}
}

func TestBackoff(t *testing.T) {
	r := config.Retry{InitialBackoff: config.Duration(time.Second), MaxBackoff: config.Duration(10 * time.Second)}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		hi := Backoff(r, n, func() float64 { return 0.999999 })
		lo := Backoff(r, n, func() float64 { return 0 })
		if lo != want/2 || hi < want-time.Millisecond || hi > want {
			t.Errorf("attempt %d: backoff in [%v, %v], want [%v, %v]", n, lo, hi, want/2, want)
		}
	}
}

func TestDecide(t *testing.T) {
	r := config.Delivery{}.WithDefaults().Retry
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	half := func() float64 { return 0.5 }
	tests := []struct {
		name     string
		err      error
		attempts int
		queued   time.Time
		state    string
		next     time.Duration
	}{
		{"success", nil, 1, now, store.StateDelivered, 0},
		{"retryable", errors.New("eof"), 1, now, store.StatePending, 3750 * time.Millisecond},
		{"permanent", sinks.Permanent(errors.New("404")), 1, now, store.StateDead, 0},
		{"exhausted", errors.New("eof"), 12, now, store.StateDead, 0},
		{"retry-after", &sinks.Error{Err: errors.New("429"), RetryAfter: 42 * time.Second}, 1, now, store.StatePending, 42 * time.Second},
		{"retry-after bounded", &sinks.Error{Err: errors.New("429"), RetryAfter: 48 * time.Hour}, 1, now, store.StatePending, time.Hour},
		{"too old", errors.New("eof"), 2, now.Add(-24 * time.Hour), store.StateDead, 0},
	}
	for _, tc := range tests {
		o := decide(r, tc.err, tc.attempts, tc.queued, now, half)
		if o.State != tc.state || (tc.state == store.StatePending && o.NextAttemptAt.Sub(now) != tc.next) {
			t.Errorf("%s: %+v, want %s in %v", tc.name, o, tc.state, tc.next)
		}
	}
}
