package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// An intake whose batch runs again, because another intake in it failed,
// is stored once and reports its rule errors and matches once: the rules
// ran before the writer, and what the result holds is from the run that
// committed. SQLite's single writer loop makes the shared batch certain.
func TestRerunBatchReportsOnce(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	ctx := context.Background()
	boom := errors.New("injected fault")
	var mu sync.Mutex
	planned := 0
	plan := func(ev *event.Event) rules.Result {
		mu.Lock()
		planned++
		mu.Unlock()
		return rules.Result{Matches: []rules.Match{{Rule: "ok", Sink: "a"}}, Matched: []string{"ok"},
			Errors: []rules.RuleError{{Rule: "broken", Err: errors.New("template: no such key")}}}
	}
	// Hold the writer so both intakes land in one batch.
	release := make(chan struct{})
	held := make(chan struct{})
	go st.w.do(ctx, func(context.Context, *wtx) error { close(held); <-release; return nil })
	<-held
	bad, good := newEvent("bad", "failure", 1, true), newEvent("good", "failure", 1, true)
	st.hookEv = func(ev *event.Event) error {
		if ev.Subject == "bad" {
			return boom
		}
		return nil
	}
	var wg sync.WaitGroup
	var badErr error
	var res *IngestResult
	wg.Add(2)
	go func() { defer wg.Done(); _, badErr = st.Ingest(ctx, []*event.Event{bad}, plan, nil) }()
	go func() {
		defer wg.Done()
		var err error
		if res, err = st.Ingest(ctx, []*event.Event{good}, plan, nil); err != nil {
			t.Error(err)
		}
	}()
	for len(st.w.ops) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if !errors.Is(badErr, boom) {
		t.Fatalf("failing intake: err = %v, want the injected fault", badErr)
	}
	if res == nil || len(res.Stored) != 1 || len(res.RuleErrors) != 1 || len(res.Matched) != 1 || res.Deliveries != 1 {
		t.Fatalf("result = %+v, want one stored event, one rule error, one match, one delivery", res)
	}
	if planned != 2 {
		t.Errorf("rules ran %d times, want once per event", planned)
	}
	if n := count(t, st, "deliveries"); n != 1 {
		t.Errorf("deliveries = %d, want 1", n)
	}
}
