package deliver

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/sinks"
)

// countHandler counts the log records with one message.
type countHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// While the store fails (here: closed), a worker retries its claims with
// backoff instead of at every poll.
func TestClaimBackoff(t *testing.T) {
	st := openStore(t)
	st.Close()
	synctest.Test(t, func(t *testing.T) {
		var failures atomic.Int64
		log := slog.New(countHandler{msg: "claim deliveries", n: &failures})
		const poll = 10 * time.Millisecond
		d := New(st, log, Options{Poll: poll})
		d.Update([]Target{{Name: "a", Sink: funcSink{send: func(context.Context, *sinks.Message) error { return nil }}, Delivery: fastDelivery(3)}})
		time.Sleep(400 * time.Millisecond)
		synctest.Wait()
		// Without backoff: a claim every poll, 40. With it: at 0, 10, 30,
		// 70, 150 and 310 ms.
		if n := failures.Load(); n != 6 {
			t.Errorf("%d failed claims in 400ms with a %s poll, want 6 (backoff)", n, poll)
		}
		d.Stop(context.Background())
	})
}

func TestLeaseMargin(t *testing.T) {
	d := New(nil, slog.New(slog.DiscardHandler), Options{})
	w := newWorker(d, Target{Name: "a", Delivery: fastDelivery(1)})
	for _, tc := range []struct {
		margin time.Duration
		want   time.Duration
	}{{0, 2*time.Second + 30*time.Second}, {time.Second, 3 * time.Second}} {
		dl := config.Delivery{Timeout: config.Duration(2 * time.Second), LeaseMargin: config.Duration(tc.margin)}
		if got := w.lease(&Target{Delivery: dl}); got != tc.want {
			t.Errorf("lease with margin %s = %s, want %s", tc.margin, got, tc.want)
		}
	}
}
