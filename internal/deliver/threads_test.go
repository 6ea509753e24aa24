package deliver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
)

// A threaded sink gets the messages of one thread one at a time, in order,
// also across a retry, while other threads go on: intake does not hand its
// deliveries over, the worker claims them in thread order.
func TestThreadedInOrder(t *testing.T) {
	st := openStore(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var sent []string // thread/n of every attempt
	sink := funcSink{send: func(ctx context.Context, m *sinks.Message) error {
		mu.Lock()
		sent = append(sent, m.Thread+"/"+m.Event.Subject)
		mu.Unlock()
		if m.Event.Subject == "1" && m.Attempt == 1 {
			return &sinks.Error{Err: errors.New("rate limited"), Status: 429, RetryAfter: 10 * time.Millisecond}
		}
		if m.Event.Subject == "1" && m.Attempt == 2 {
			select { // in flight until the test has looked
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}}
	d := start(t, st, Target{Name: "slack", Sink: sink, Delivery: fastDelivery(5), Threaded: true})
	// Messages 1-3 of thread fax1, 4 of thread fax2, received in that order.
	for i, thread := range []string{"fax1", "fax1", "fax1", "fax2"} {
		ev := &event.Event{Source: "test", Type: "test", Subject: fmt.Sprint(i + 1), Status: "pending", DedupKey: fmt.Sprint(i)}
		ev.Seal("r", time.Now().Add(time.Duration(i)*time.Millisecond))
		_, err := st.Ingest(context.Background(), []*event.Event{ev}, func(ev *event.Event) rules.Result {
			return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "slack", Title: "t", Text: "x", Thread: thread}}}
		}, d)
		if err != nil {
			t.Fatal(err)
		}
		d.Notify([]string{"slack"})
	}
	byEvent := func(subject string) *store.Delivery {
		ds, err := st.List(context.Background(), store.Filter{Sink: "slack", Subject: subject})
		if err != nil || len(ds) != 1 {
			t.Fatalf("list %s: %v %v", subject, ds, err)
		}
		return ds[0]
	}
	// fax2 goes out while fax1's first message waits for its retry and is
	// in flight again; fax1's later ones are not even claimed.
	waitFor(t, "fax2 delivered", func() bool { return byEvent("4").State == store.StateDelivered })
	waitFor(t, "the retry of fax1's first in flight", func() bool { return byEvent("1").Attempts == 2 })
	for _, s := range []string{"2", "3"} {
		if dl := byEvent(s); dl.Attempts != 0 {
			t.Errorf("message %s of fax1 claimed (%d attempts) while the first was not delivered", s, dl.Attempts)
		}
	}
	close(release)
	waitFor(t, "all delivered", func() bool { return byEvent("3").State == store.StateDelivered })
	mu.Lock()
	defer mu.Unlock()
	var fax1 []string
	for _, s := range sent {
		if strings.HasPrefix(s, "fax1/") {
			fax1 = append(fax1, s)
		}
	}
	if want := []string{"fax1/1", "fax1/1", "fax1/2", "fax1/3"}; !slices.Equal(fax1, want) {
		t.Errorf("fax1 attempts = %v, want %v", fax1, want)
	}
}
