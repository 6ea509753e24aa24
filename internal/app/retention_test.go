package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/deliver"
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
)

type sinkFunc func(ctx context.Context, m *sinks.Message) error

func (f sinkFunc) Send(ctx context.Context, m *sinks.Message) error { return f(ctx, m) }

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// retention: {dead: 0} keeps dead deliveries forever (it used to mean the
// 30-day default), while the delivered window still prunes.
func TestRetentionDeadZeroKeepsDead(t *testing.T) {
	f, err := rules.Parse("rules.yaml", strings.NewReader("retention: {delivered: 1h, dead: 0}\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if f.Retention.Dead != 0 {
		t.Fatalf("retention.dead = %v, want 0 (keep forever)", time.Duration(f.Retention.Dead))
	}

	ctx := context.Background()
	clk := &testClock{t: time.Now()}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "sb.db"), store.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := &event.Event{Source: "test", Type: "test", Subject: "s1", Status: event.StatusFailure, Final: true, DedupKey: "s1|1"}
	ev.Seal("r", clk.now())
	if _, err := st.Ingest(ctx, []*event.Event{ev}, func(*event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "ok", Title: "t", Text: "x"}, {Rule: "r", Sink: "bad", Title: "t", Text: "x"}}}
	}, nil); err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.DiscardHandler)
	disp := deliver.New(st, log, deliver.Options{Poll: 10 * time.Millisecond})
	d := config.Delivery{}.WithDefaults()
	disp.Update([]deliver.Target{
		{Name: "ok", Sink: sinkFunc(func(context.Context, *sinks.Message) error { return nil }), Delivery: d},
		{Name: "bad", Sink: sinkFunc(func(context.Context, *sinks.Message) error { return sinks.Permanent(errors.New("refused")) }), Delivery: d},
	})
	disp.Notify([]string{"ok", "bad"})
	states := func() map[string]string {
		ds, err := st.List(ctx, store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range ds {
			out[d.Sink] = d.State
		}
		return out
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s := states(); s["ok"] == store.StateDelivered && s["bad"] == store.StateDead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries did not finish: %v", states())
		}
	}
	disp.Stop(ctx)

	clk.add(10 * 365 * 24 * time.Hour)
	ops := newOperations(st, log)
	ops.retention.Store(&f.Retention)
	ops.prune(ctx, st)
	if s := states(); len(s) != 1 || s["bad"] != store.StateDead {
		t.Errorf("after ten years with dead: 0 and delivered: 1h: %v, want only the dead delivery", s)
	}
}
