package metrics

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// scrape fetches the metrics as Prometheus scrapes them and returns each
// sample by its printed name and labels.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestHooks(t *testing.T) {
	now := time.Unix(1700000000, 0)
	stats := func(ctx context.Context) ([]store.QueueStat, error) {
		return []store.QueueStat{
			{Sink: "ops-slack", State: store.StatePending, Count: 3, OldestDue: now.Add(-90 * time.Second)},
			{Sink: "ops-slack", State: store.StateDead, Count: 2},
			{Sink: "audit", State: store.StatePending},
			{Sink: "audit", State: store.StateDead},
		}, nil
	}
	m := New(stats, slog.New(slog.DiscardHandler))
	m.queue.now = func() time.Time { return now }

	m.Callback("interfax", "accepted", 3*time.Millisecond)
	m.Callback("interfax", "accepted", 4*time.Millisecond)
	m.Callback("telesign", "unauthorized", time.Millisecond)
	// Labels come from the kinds receivers declare, never from the payload.
	fax := &event.Kind{Source: "interfax", Type: "fax.outbound"}
	derived := &event.Kind{Source: "telesign"} // every other telesign type
	m.Event(&event.Event{Source: "interfax", Type: "fax.outbound", Status: "failure", Kind: fax})
	m.Event(&event.Event{Source: "telesign", Type: "telesign.made_up_by_vendor", Status: "weird", Kind: derived})
	m.Event(&event.Event{Source: "made-up", Type: "made.up", Status: "success"})
	m.Match("failed-faxes")
	m.Match("failed-faxes")
	m.RuleError("broken")
	m.Throttled("failed-faxes")
	m.Attempt("ops-slack", store.Outcome{State: store.StatePending, Duration: 20 * time.Millisecond})
	m.Attempt("ops-slack", store.Outcome{State: store.StateDead, Duration: 30 * time.Millisecond})
	m.Attempt("audit", store.Outcome{State: store.StateDelivered, Duration: time.Millisecond})
	m.Pruned(store.Pruned{Delivered: 500, Attempts: 510, Events: 3})
	m.ConfigLoaded("abc123", nil, now)
	m.ConfigLoaded("def456", nil, now.Add(time.Minute))
	m.ConfigLoaded("", errors.New("bad"), now.Add(2*time.Minute))

	got := scrape(t, m)
	want := map[string]float64{
		`switchboard_callbacks_total{outcome="accepted",receiver="interfax"}`:              2,
		`switchboard_callbacks_total{outcome="unauthorized",receiver="telesign"}`:          1,
		`switchboard_callback_duration_seconds_count{receiver="interfax"}`:                 2,
		`switchboard_callback_duration_seconds_bucket{receiver="interfax",le="0.0025"}`:    0,
		`switchboard_callback_duration_seconds_bucket{receiver="interfax",le="0.005"}`:     2,
		`switchboard_events_total{source="interfax",status="failure",type="fax.outbound"}`: 1,
		`switchboard_events_total{source="telesign",status="other",type="telesign.other"}`: 1,
		`switchboard_events_total{source="other",status="success",type="other"}`:           1,
		`switchboard_rule_matches_total{rule="failed-faxes"}`:                              2,
		`switchboard_rule_errors_total{rule="broken"}`:                                     1,
		`switchboard_rule_throttled_total{rule="failed-faxes"}`:                            1,
		`switchboard_deliveries_total{outcome="retry",sink="ops-slack"}`:                   1,
		`switchboard_deliveries_total{outcome="dead",sink="ops-slack"}`:                    1,
		`switchboard_deliveries_total{outcome="delivered",sink="audit"}`:                   1,
		`switchboard_delivery_attempt_duration_seconds_count{sink="ops-slack"}`:            2,
		`switchboard_delivery_attempt_duration_seconds_sum{sink="ops-slack"}`:              0.05,
		`switchboard_retention_pruned_total{kind="delivered"}`:                             500,
		`switchboard_retention_pruned_total{kind="attempts"}`:                              510,
		`switchboard_retention_pruned_total{kind="events"}`:                                3,
		`switchboard_config_last_reload_successful`:                                        0,
		`switchboard_config_last_reload_success_timestamp_seconds`:                         float64(now.Add(time.Minute).Unix()),
		`switchboard_config_reloads_total{result="success"}`:                               2,
		`switchboard_config_reloads_total{result="failure"}`:                               1,
		`switchboard_config_hash{hash="def456"}`:                                           1,
		`switchboard_queue_depth{sink="ops-slack",state="pending"}`:                        3,
		`switchboard_queue_depth{sink="ops-slack",state="dead"}`:                           2,
		`switchboard_queue_depth{sink="audit",state="pending"}`:                            0,
		`switchboard_queue_oldest_due_age_seconds{sink="ops-slack"}`:                       90,
		`switchboard_queue_oldest_due_age_seconds{sink="audit"}`:                           0,
		`switchboard_store_up`: 1,
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if diff := g - v; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	for _, absent := range []string{`switchboard_config_hash{hash="abc123"}`, `switchboard_retention_pruned_total{kind="dead"}`} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s is exported", absent)
		}
	}
	// Runtime and process collectors are on.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if _, ok := got[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
}

// A store that does not answer does not break the scrape: the other
// metrics are served and switchboard_store_up says so.
func TestQueueStoreDown(t *testing.T) {
	m := New(func(context.Context) ([]store.QueueStat, error) { return nil, store.ErrUnavailable }, slog.New(slog.DiscardHandler))
	m.Callback("interfax", "store_error", time.Millisecond)
	got := scrape(t, m)
	if got[`switchboard_store_up`] != 0 || got[`switchboard_callbacks_total{outcome="store_error",receiver="interfax"}`] != 1 {
		t.Errorf("scrape with the store down: up=%v callbacks=%v", got[`switchboard_store_up`],
			got[`switchboard_callbacks_total{outcome="store_error",receiver="interfax"}`])
	}
}

// openStore opens a SQLite store, closed when t ends.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir()+"/sb.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The queue collector reads a real store.
func TestQueueFromStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	ev := &event.Event{Source: "interfax", Type: "fax.outbound", Subject: "664598111", Status: "failure", DedupKey: "k"}
	ev.Seal("interfax", time.Now().Add(-time.Minute))
	plan := func(*event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "ops-slack"}, {Rule: "r", Sink: "audit"}}}
	}
	if _, err := st.Ingest(ctx, []*event.Event{ev}, plan, nil); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, New(st.Stats, slog.New(slog.DiscardHandler)))
	if got[`switchboard_queue_depth{sink="ops-slack",state="pending"}`] != 1 || got[`switchboard_queue_depth{sink="audit",state="dead"}`] != 0 {
		t.Errorf("queue depth: %v", got)
	}
	if _, ok := got[`switchboard_queue_oldest_due_age_seconds{sink="audit"}`]; !ok {
		t.Errorf("no oldest due age")
	}
}

// The writer's metrics read a real store's group commits.
func TestWriterFromStore(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	plan := func(*event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "audit"}}}
	}
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			ev := &event.Event{Source: "interfax", Type: "fax.outbound", Subject: strconv.Itoa(i), Status: "failure", DedupKey: strconv.Itoa(i)}
			ev.Seal("interfax", time.Now())
			_, err := st.Ingest(ctx, []*event.Event{ev}, plan, nil)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	m := New(nil, slog.New(slog.DiscardHandler))
	m.Writer(st.WriterStats)
	got := scrape(t, m)
	commits := got[`switchboard_store_commit_duration_seconds_count`]
	if got[`switchboard_store_committed_operations_total`] != n || commits < 1 || commits > n {
		t.Errorf("%v operations in %v commits, want %d in 1..%d", got[`switchboard_store_committed_operations_total`], commits, n, n)
	}
	if got[`switchboard_store_commit_duration_seconds_bucket{le="+Inf"}`] != commits || got[`switchboard_store_commit_duration_seconds_sum`] <= 0 {
		t.Errorf("commit histogram: %v", got)
	}
	if busy := got[`switchboard_store_writer_busy_seconds_total`]; busy < got[`switchboard_store_commit_duration_seconds_sum`] {
		t.Errorf("busy %vs is less than the committed transactions' %vs", busy, got[`switchboard_store_commit_duration_seconds_sum`])
	}
}
