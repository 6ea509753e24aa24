package deliver

import (
	"bytes"
	"context"
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
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
)

// sendLog counts the sends of each delivery id.
type sendLog struct {
	mu    sync.Mutex
	sends map[string]int
}

func (l *sendLog) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sends == nil {
		l.sends = map[string]int{}
	}
	l.sends[id]++
}

func (l *sendLog) get(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sends[id]
}

// ingestVia stores n events with one delivery each to sink, handing the
// deliveries to h, from 8 concurrent callers.
func ingestVia(t *testing.T, st *store.Store, h store.Handoff, n int, sink string) {
	t.Helper()
	plan := func(ev *event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: sink, Title: ev.Title(), Text: ev.Text()}}}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				ev := &event.Event{Source: "test", Type: "test", Subject: fmt.Sprint("s", i), Status: "success", Final: true, DedupKey: fmt.Sprint(i)}
				ev.Seal("r", time.Now())
				if _, err := st.Ingest(context.Background(), []*event.Event{ev}, plan, h); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Deliveries handed over at intake go out with no claim, under concurrent
// sends, and every outcome is recorded in the store's batches.
func TestHandoffDeliversAll(t *testing.T) {
	st := openStore(t)
	var log sendLog
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		if m.Event == nil || !bytes.Contains(m.EventJSON, []byte(m.Event.ID)) {
			return fmt.Errorf("message without its event")
		}
		log.add(m.DeliveryID)
		return nil
	}}
	d := start(t, st, Target{Name: "api", Sink: sink, Delivery: config.Delivery{Concurrency: 8}.WithDefaults()})
	const n = 300
	ingestVia(t, st, d, n, "api")
	for _, dl := range waitDelivered(t, st, "api", n) {
		if got := log.get(dl.ID); got != 1 || dl.Attempts != 1 {
			t.Errorf("%s: %d sends, %d attempts; want 1 and 1", dl.ID, got, dl.Attempts)
		}
	}
}

// waitDelivered waits until the n deliveries of sink are recorded as
// delivered, and returns them.
func waitDelivered(t *testing.T, st *store.Store, sink string, n int) []*store.Delivery {
	t.Helper()
	var ds []*store.Delivery
	waitFor(t, "every delivery delivered", func() bool {
		ds, _ = st.List(context.Background(), store.Filter{Sink: sink, State: store.StateDelivered, Limit: n})
		return len(ds) == n
	})
	return ds
}

// A process that dies between sends and the commit of their outcomes
// loses nothing: its leases expire, another instance sends those
// deliveries again, and no delivery is marked delivered without a send.
func TestCrashBetweenSendAndRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sb.db")
	st1, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var log sendLog
	gate := make(chan struct{})
	var sent1 sync.WaitGroup
	const n = 40
	sent1.Add(n)
	first := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		log.add(m.DeliveryID)
		sent1.Done()
		<-gate // the process dies before it records the outcome
		return nil
	}}
	lease := config.Delivery{Concurrency: n, Timeout: config.Duration(200 * time.Millisecond), LeaseMargin: config.Duration(300 * time.Millisecond)}.WithDefaults()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d1 := New(st1, quiet, Options{Poll: 20 * time.Millisecond})
	d1.Update([]Target{{Name: "api", Sink: first, Delivery: lease}})
	ingestVia(t, st1, d1, n, "api")
	sent1.Wait() // every delivery was sent once by the first process
	st1.Close()  // ... which then dies: its outcomes cannot be recorded
	close(gate)
	d1.Stop(context.Background())

	st2, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	second := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		log.add(m.DeliveryID)
		return nil
	}}
	start(t, st2, Target{Name: "api", Sink: second, Delivery: lease})
	for _, dl := range waitDelivered(t, st2, "api", n) {
		if got := log.get(dl.ID); got != 2 {
			t.Errorf("%s: %d sends, want 2 (one lost with the first process, one recorded)", dl.ID, got)
		}
		if _, atts, _ := st2.Get(context.Background(), dl.ID); len(atts) != 1 {
			t.Errorf("%s: %d attempts recorded, want the second process's 1", dl.ID, len(atts))
		}
	}
}

// A send that no longer fits its lease is given back, not made: the
// delivery is claimed again and sent once.
func TestExpiredLeaseIsGivenBack(t *testing.T) {
	st := openStore(t)
	var log sendLog
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		log.add(m.DeliveryID)
		time.Sleep(100 * time.Millisecond) // long enough for a claim of an expired lease
		return nil
	}}
	d := start(t, st, Target{Name: "api", Sink: sink, Delivery: fastDelivery(3)})
	// Hand over a delivery whose lease has all but run out, as one that
	// waited too long in the queue.
	ingestVia(t, st, shortLease{d}, 1, "api")
	waitFor(t, "delivered", func() bool { return state(t, st, "api").State == store.StateDelivered })
	dl := state(t, st, "api")
	// The attempt count may include the handover's lease if it expired
	// before it was given back; the history has the one real attempt.
	_, atts, _ := st.Get(context.Background(), dl.ID)
	if got := log.get(dl.ID); got != 1 || len(atts) != 1 {
		t.Errorf("%d sends, %d attempts recorded; want the one of the new claim", got, len(atts))
	}
}

// shortLease hands deliveries over with a lease too short for an attempt.
type shortLease struct{ *Dispatcher }

func (s shortLease) Reserve(sink string) (time.Duration, bool) {
	_, ok := s.Dispatcher.Reserve(sink)
	return time.Millisecond, ok
}

// Deliveries another instance held as no_sink (its configuration lacks the
// sink) are taken back by a worker of that sink without a reload.
func TestHeldDeliveriesResume(t *testing.T) {
	st := openStore(t)
	var log sendLog
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		log.add(m.DeliveryID)
		return nil
	}}
	ingest(t, st, "s1", "api")
	if held, _, err := st.MatchSinks(context.Background(), []string{"other"}); err != nil || held != 1 {
		t.Fatalf("hold = %d, %v", held, err)
	}
	d := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Poll: 20 * time.Millisecond, ResumeHeld: 50 * time.Millisecond})
	d.Update([]Target{{Name: "api", Sink: sink, Delivery: fastDelivery(3)}})
	defer d.Stop(context.Background())
	waitFor(t, "the held delivery sent", func() bool { return state(t, st, "api").State == store.StateDelivered })
	if got := log.get(state(t, st, "api").ID); got != 1 {
		t.Errorf("sends = %d, want 1", got)
	}
}

// A timeout raised by a reload never lets a send outlive the lease it was
// claimed under: the delivery queued under the old, shorter lease is given
// back and claimed again under the new one, and sent once.
func TestRaisedTimeoutSendsOnce(t *testing.T) {
	st := openStore(t)
	var log sendLog
	release := make(chan struct{})
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		if log.add(m.DeliveryID); m.Event.Subject == "first" {
			<-release // holds the only sender while the second waits, leased
		} else {
			time.Sleep(400 * time.Millisecond) // longer than the old lease
		}
		return nil
	}}
	old := config.Delivery{Concurrency: 1, Timeout: config.Duration(100 * time.Millisecond), LeaseMargin: config.Duration(200 * time.Millisecond)}.WithDefaults()
	d := start(t, st, Target{Name: "api", Sink: sink, Delivery: old})
	for _, subject := range []string{"first", "second"} {
		ev := &event.Event{Source: "test", Type: "test", Subject: subject, Status: "failure", Final: true, DedupKey: subject}
		ev.Seal("r", time.Now())
		plan := func(ev *event.Event) rules.Result {
			return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "api", Title: ev.Title(), Text: ev.Text()}}}
		}
		if _, err := st.Ingest(context.Background(), []*event.Event{ev}, plan, d); err != nil {
			t.Fatal(err)
		}
	}
	raised := old
	raised.Timeout = config.Duration(2 * time.Second)
	d.Update([]Target{{Name: "api", Sink: sink, Delivery: raised}})
	close(release)
	waitFor(t, "both delivered", func() bool {
		ds, _ := st.List(context.Background(), store.Filter{Sink: "api", State: store.StateDelivered})
		return len(ds) == 2
	})
	time.Sleep(300 * time.Millisecond) // room for a second send, if any
	ds, _ := st.List(context.Background(), store.Filter{Sink: "api"})
	for _, dl := range ds {
		if got := log.get(dl.ID); got != 1 {
			t.Errorf("%s sent %d times, want once", dl.ID, got)
		}
	}
}
