package store

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/testutil"
)

// A stored silence whose matcher no longer compiles (written by an older
// version) silences nothing and is reported once, not at every refresh.
func TestSilenceThatDoesNotCompile(t *testing.T) {
	var logs testutil.SyncBuffer
	c := &clock{t: time.Unix(1700000000, 0)}
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"), WithClock(c.now),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	sl, err := st.AddSilence(ctx, Silence{Match: `code == 7`, Comment: "known"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, `UPDATE silences SET matcher = 'data.gone ==' WHERE id = ?`, sl.ID); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := st.RefreshSilences(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "silence matcher does not compile"); n != 1 {
		t.Errorf("reported %d times over three refreshes, want once:\n%s", n, logs.String())
	}
	res, err := st.Ingest(ctx, []*event.Event{newEvent("s1", "failure", 7, true)}, toSinks("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Silenced != 0 || res.Deliveries != 1 {
		t.Errorf("silenced %d, delivered %d: a matcher that does not compile must silence nothing", res.Silenced, res.Deliveries)
	}
}

// A silence holds back what would be sent, not what a throttle already
// suppressed: the window's first match is silenced, its later ones stay
// suppressed (and counted for the window's next message).
func TestSilenceKeepsThrottledSuppressed(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	if _, err := st.AddSilence(ctx, Silence{Match: `code == 7`, Comment: "known"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.RefreshSilences(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 2 {
		ev := newEvent(fmt.Sprintf("s%d", i), "failure", 7, true)
		if _, err := st.Ingest(ctx, []*event.Event{ev}, throttled("a"), nil); err != nil {
			t.Fatal(err)
		}
		ds, err := st.List(ctx, Filter{EventID: ev.ID, Limit: 1})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of %s: %v, %v", ev.ID, ds, err)
		}
		got = append(got, ds[0].State)
	}
	if want := []string{StateSilenced, StateSuppressed}; !slices.Equal(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
}
