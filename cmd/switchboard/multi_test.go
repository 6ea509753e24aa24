package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// Several instances on one Postgres (issue: scale out). The configuration
// is the same for every instance but for its listen and admin addresses,
// which differ only because the instances share this machine.
const multiConfig = `listen: %s
admin: %s
store: %q
receivers:
  t: {type: test}
sinks:
  hook:
    type: webhook
    url: %s
    timeout: %s
    lease_margin: %s
    concurrency: 4
    retry: {initial_backoff: 100ms, max_backoff: 1s}
rules:
  - {name: all, when: "true", to: [hook]}
`

// TestMultiInstanceKill runs several serve processes on one Postgres
// schema, sprays callbacks across them, kills one with SIGKILL mid-run and
// checks that every callback is acknowledged (a callback the dead instance
// did not answer is sent again to another one, as a vendor retries through
// a load balancer) and delivered; that each delivery is sent by one
// instance at a time: a webhook-id received twice is a failure unless the
// second came after the first attempt's lease expired; and that the
// deliveries the killed instance had in flight are finished by the others.
func TestMultiInstanceKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		instances, callbacks int
	}{
		{instances: 2, callbacks: 2000},
		{instances: 3, callbacks: 1500},
	} {
		t.Run(fmt.Sprintf("%d instances", tc.instances), func(t *testing.T) {
			testMultiInstanceKill(t, bin, tc.instances, tc.callbacks)
		})
	}
}

func testMultiInstanceKill(t *testing.T, bin string, instances, callbacks int) {
	const (
		clients     = 16
		sinkTimeout = 2 * time.Second
		// leaseMargin is short so the killed instance's deliveries are
		// taken over within the test; lease = sinkTimeout + leaseMargin.
		leaseMargin = time.Second
		// hookDelay makes deliveries slower than intake, so that every
		// instance has a backlog to claim when the kill comes.
		hookDelay   = 10 * time.Millisecond
		concurrency = 4 // the sink's, in multiConfig
	)
	dsn, db := testPostgresSchema(t)
	dir := t.TempDir()
	hook := newLeaseRecorder(hookDelay)
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	procs := make([]*process, instances)
	listens, admins := make([]string, instances), make([]string, instances)
	for i := range instances {
		listens[i], admins[i] = freeAddr(t), freeAddr(t)
		cfg := filepath.Join(dir, fmt.Sprintf("rules-%d.yaml", i))
		writeFile(t, cfg, fmt.Sprintf(multiConfig, listens[i], admins[i], dsn, hookSrv.URL, sinkTimeout, leaseMargin))
		// Started together on an empty schema: they migrate it in turn.
		procs[i] = startProcess(t, bin, cfg, filepath.Join(dir, fmt.Sprintf("instance-%d.log", i)))
	}
	for i, p := range procs {
		p.waitReady(t, admins[i], 20*time.Second)
	}

	// Each callback goes to instance n % instances; one that is not
	// acknowledged is sent to the next instance, until one acknowledges.
	var (
		acked      atomic.Int64
		ackedBy    = make([]atomic.Int64, instances)
		resent     atomic.Int64
		victim     = 0
		killed     atomic.Bool
		killSignal = make(chan struct{})
	)
	work := make(chan int, callbacks)
	for n := range callbacks {
		work <- n
	}
	close(work)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	t.Cleanup(client.CloseIdleConnections)
	deadline := time.Now().Add(40 * time.Second)
	var wg sync.WaitGroup
	failures := make(chan string, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				subject := fmt.Sprintf("cb-%05d", n)
				body := fmt.Sprintf(`{"subject":%q,"status":"success","code":0,"final":true}`, subject)
				for try := 0; ; try++ {
					if time.Now().After(deadline) {
						failures <- subject + ": never acknowledged"
						return
					}
					i := (n + try) % instances
					if try > 0 {
						resent.Add(1)
						time.Sleep(20 * time.Millisecond)
					}
					if i == victim && killed.Load() {
						continue
					}
					resp, err := client.Post("http://"+listens[i]+"/hooks/t", "application/json", strings.NewReader(body))
					if err != nil {
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						continue
					}
					ackedBy[i].Add(1)
					if acked.Add(1) == int64(callbacks/2) {
						close(killSignal)
					}
					break
				}
			}
		}()
	}
	// Kill one instance once half the callbacks are acknowledged, while
	// every instance has all its sends in flight (the webhook holds them
	// for a moment): the killed one dies holding leases.
	select {
	case <-killSignal:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d callbacks acknowledged in 30s\n%s", acked.Load(), procs[victim].logTail())
	}
	hook.hold()
	if !hook.waitHeld(concurrency*instances, 10*time.Second) {
		t.Errorf("the webhook holds %d requests, want %d (every instance's sends)", hook.held.Load(), concurrency*instances)
	}
	if err := procs[victim].cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	killedAt := time.Now()
	killed.Store(true)
	hook.release()
	procs[victim].wait(t, 10*time.Second)
	beforeKill := hook.unique()
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every callback is acknowledged; wait for every delivery.
	want := make([]string, callbacks)
	for n := range callbacks {
		want[n] = fmt.Sprintf("cb-%05d", n)
	}
	// The webhook may have received a delivery whose sender was killed
	// before it could record the outcome: it is done only once another
	// instance has claimed it after the lease and recorded it delivered.
	var missing []string
	pending := -1
	testutil.WaitFor(time.Until(deadline), func() bool {
		if missing = hook.missing(want); len(missing) > 0 {
			return false
		}
		pending = countPending(t, db)
		return pending == 0
	})
	allDelivered := time.Since(killedAt)
	if pending != 0 {
		t.Errorf("%d deliveries not recorded as delivered (pending: %d)", len(missing), pending)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d of %d acknowledged callbacks never delivered: %s…\n%s", len(missing), callbacks,
			strings.Join(missing[:min(len(missing), 20)], " "), procs[(victim+1)%instances].logTail())
	}

	// Duplicates: only after a lease expiry.
	received, unique, afterExpiry, concurrent := hook.duplicates(leaseMargin)
	for _, c := range concurrent {
		t.Errorf("delivery sent twice while a lease held it: %s", c)
	}
	takenOver := countTakenOver(t, db)
	if takenOver < concurrency {
		t.Errorf("%d deliveries claimed again, want at least the %d the killed instance was sending", takenOver, concurrency)
	}
	t.Logf("%d instances, %d callbacks: acknowledged per instance %v (instance %d killed after %d were acknowledged); %d resent after a refusal or a cut connection",
		instances, callbacks, loads(ackedBy), victim, callbacks/2, resent.Load())
	t.Logf("delivered: %d unique of %d (%d webhook requests; %d before the kill); all recorded delivered %s after the kill",
		unique, callbacks, received, beforeKill, allDelivered.Round(time.Millisecond))
	t.Logf("duplicates: %d after a lease expiry (allowed), %d while a lease held (must be 0); deliveries claimed again after the killed instance's lease expired: %d",
		afterExpiry, len(concurrent), takenOver)

	for i, p := range procs {
		if i == victim {
			continue
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM: %v", err)
		}
		p.wait(t, 25*time.Second)
		if p.err != nil {
			t.Errorf("instance %d exited with %v after SIGTERM, want 0\n%s", i, p.err, p.logTail())
		}
	}
}

func loads(v []atomic.Int64) []int64 {
	out := make([]int64, len(v))
	for i := range v {
		out[i] = v[i].Load()
	}
	return out
}

// countPending counts the deliveries not finished.
func countPending(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE state <> 'delivered'`).Scan(&n); err != nil {
		t.Fatalf("count pending deliveries: %v", err)
	}
	return n
}

// countTakenOver counts the deliveries claimed more than once: in this
// test (a webhook that always answers 200) only those whose first claim
// died with the killed instance.
func countTakenOver(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM deliveries WHERE attempts > 1`).Scan(&n); err != nil {
		t.Fatalf("count deliveries claimed twice: %v", err)
	}
	return n
}

// leaseRecorder is the webhook: it records when each webhook-id arrives
// and answers 200 after a delay.
type leaseRecorder struct {
	delay time.Duration
	held  atomic.Int64 // requests held now

	mu       sync.Mutex
	holding  chan struct{}          // while not nil, requests wait for it to close
	at       map[string][]time.Time // webhook-id → arrivals
	subjects map[string]string      // subject → webhook-id
	received int
}

func newLeaseRecorder(delay time.Duration) *leaseRecorder {
	return &leaseRecorder{delay: delay, at: map[string][]time.Time{}, subjects: map[string]string{}}
}

func (h *leaseRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var ev struct {
		Subject string `json:"subject"`
	}
	err := json.NewDecoder(r.Body).Decode(&ev)
	id := r.Header.Get("webhook-id")
	if err != nil || id == "" || ev.Subject == "" {
		http.Error(w, "bad delivery", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.received++
	h.at[id] = append(h.at[id], now)
	h.subjects[ev.Subject] = id
	holding := h.holding
	h.mu.Unlock()
	if holding != nil {
		h.held.Add(1)
		select {
		case <-holding:
		case <-r.Context().Done(): // the sender died
		}
		h.held.Add(-1)
	}
	time.Sleep(h.delay)
	w.WriteHeader(http.StatusOK)
}

// hold makes requests wait until release.
func (h *leaseRecorder) hold() {
	h.mu.Lock()
	h.holding = make(chan struct{})
	h.mu.Unlock()
}

func (h *leaseRecorder) release() {
	h.mu.Lock()
	close(h.holding)
	h.holding = nil
	h.mu.Unlock()
}

// waitHeld waits until n requests are held.
func (h *leaseRecorder) waitHeld(n int, limit time.Duration) bool {
	return testutil.WaitFor(limit, func() bool { return h.held.Load() >= int64(n) })
}

func (h *leaseRecorder) unique() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subjects)
}

func (h *leaseRecorder) missing(want []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return missingKeys(h.subjects, want)
}

// duplicates classifies repeated webhook-ids. A delivery is sent again only
// after its lease (timeout + margin from the claim) expired; the claim
// came before the first arrival and that attempt ended within the timeout,
// so the second arrival is at least margin after the first. Closer
// arrivals mean two instances held it at once.
func (h *leaseRecorder) duplicates(margin time.Duration) (received, unique, afterExpiry int, concurrent []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, at := range h.at {
		for i := 1; i < len(at); i++ {
			// Leases are stored in milliseconds.
			if gap := at[i].Sub(at[i-1]); gap >= margin-10*time.Millisecond {
				afterExpiry++
			} else {
				concurrent = append(concurrent, fmt.Sprintf("%s arrived again after %s", id, gap))
			}
		}
	}
	return h.received, len(h.subjects), afterExpiry, concurrent
}
