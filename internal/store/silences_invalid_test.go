package store

import (
	"context"
	"log/slog"
	"path/filepath"
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
