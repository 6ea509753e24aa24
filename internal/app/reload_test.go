package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil"
)

// idRecorder is a webhook target answering with status and recording the
// webhook-id of each request.
type idRecorder struct {
	mu     sync.Mutex
	status int
	ids    []string
}

func (h *idRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.ids = append(h.ids, r.Header.Get("webhook-id"))
	code := h.status
	h.mu.Unlock()
	w.WriteHeader(code)
}

func (h *idRecorder) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

// reloadService runs Serve on a config file the test rewrites.
type reloadService struct {
	dir, path     string
	hooks, admin  string
	log           *testutil.SyncBuffer
	reload        chan struct{}
	store         string
	cancel        func()
	done          chan error
	configPreface string
}

func startReloadService(t *testing.T, watch bool, cfg string) *reloadService {
	t.Helper()
	dir := t.TempDir()
	rs := &reloadService{dir: dir, path: filepath.Join(dir, "rules.yaml"), log: &testutil.SyncBuffer{}, reload: make(chan struct{}, 1),
		store: filepath.Join(dir, "sb.db"), done: make(chan error, 1)}
	rs.configPreface = fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nstore: %s\nreceivers:\n  fax: {type: interfax, unauthenticated: true}\n", rs.store)
	writeConfig(t, rs.path, rs.configPreface+cfg)
	ctx, cancel := context.WithCancel(context.Background())
	rs.cancel = cancel
	ready := make(chan [2]string, 1)
	go func() {
		rs.done <- Serve(ctx, Options{ConfigPath: rs.path, Log: slog.New(slog.NewTextHandler(rs.log, nil)),
			Reload: rs.reload, Watch: watch, WatchDebounce: 20 * time.Millisecond,
			Ready: func(listen, admin string) { ready <- [2]string{listen, admin} }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-rs.done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("service log:\n%s", rs.log)
		}
	})
	select {
	case a := <-ready:
		rs.hooks, rs.admin = "http://"+a[0], "http://"+a[1]
	case err := <-rs.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	return rs
}

// write replaces the configuration the way editors do: a new file renamed
// over the old one.
func (rs *reloadService) write(t *testing.T, cfg string) string {
	t.Helper()
	content := rs.configPreface + cfg
	tmp := filepath.Join(rs.dir, ".rules.yaml.tmp")
	writeConfig(t, tmp, content)
	if err := os.Rename(tmp, rs.path); err != nil {
		t.Fatal(err)
	}
	return hashOf(content)
}

func (rs *reloadService) readyHash(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(rs.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		ConfigHash string `json:"config_hash"`
	}
	json.NewDecoder(resp.Body).Decode(&v)
	return v.ConfigHash
}

// eventually polls cond until it holds, failing after 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !testutil.WaitFor(10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// faxFailed posts an InterFAX "busy" callback for transaction tx and
// returns the id of the event it becomes ("" when it has no deliveries).
func (rs *reloadService) faxFailed(t *testing.T, tx string) string {
	t.Helper()
	form := url.Values{"TransactionID": {tx}, "DestinationFax": {"0012125551234"}, "Status": {"263"},
		"CompletionTime": {"23/06/2024 17:23:13"}, "PagesSent": {"0"}, "PagesSubmitted": {"2"}, "TrialsPerformed": {"4"}}
	resp, err := http.PostForm(rs.hooks+"/hooks/fax", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	st, err := store.Open(context.Background(), rs.store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.List(context.Background(), store.Filter{Subject: tx})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 {
		return "" // no rule matched
	}
	return ds[0].EventID
}

func (rs *reloadService) deliveries(t *testing.T, f store.Filter) []*store.Delivery {
	t.Helper()
	st, err := store.Open(context.Background(), rs.store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func webhookConfig(url, when string) string {
	return fmt.Sprintf(`sinks:
  api:
    type: webhook
    url: %s
    retry: {initial_backoff: 50ms, max_backoff: 100ms}
  audit: {type: log}
rules:
  - name: failed
    when: %s
    to: [api]
`, url, when)
}

// The file watcher: fixing a wrong webhook URL sends the pending retries to
// the new one; a broken file keeps the running configuration routing, with
// the error and its line logged.
func TestReloadByFileWatch(t *testing.T) {
	wrong, right := &idRecorder{status: 503}, &idRecorder{status: 200}
	wrongSrv, rightSrv := httptest.NewServer(wrong), httptest.NewServer(right)
	defer wrongSrv.Close()
	defer rightSrv.Close()

	rs := startReloadService(t, true, webhookConfig(wrongSrv.URL, `status == "failure"`))
	evID := rs.faxFailed(t, "1001")
	want := rs.deliveryID(t, evID)
	eventually(t, "an attempt at the wrong URL", func() bool { return len(wrong.got()) > 0 })

	hash := rs.write(t, webhookConfig(rightSrv.URL, `status == "failure"`))
	eventually(t, "the retry at the fixed URL", func() bool { return len(right.got()) > 0 })
	if got := right.got(); got[0] != want {
		t.Errorf("fixed URL got webhook-id %s, want the pending delivery %s", got[0], want)
	}
	if h := rs.readyHash(t); h != hash {
		t.Errorf("/readyz config_hash = %s, want the new file's %s", h, hash)
	}

	// A broken file: the error is logged with its line, the old rules keep
	// routing.
	rs.write(t, webhookConfig(rightSrv.URL, `status ==`))
	eventually(t, "the reload error in the log", func() bool { return strings.Contains(rs.log.String(), "reload failed") })
	if !strings.Contains(rs.log.String(), "rules.yaml:14: rule \\\"failed\\\": when: unexpected token EOF") {
		t.Errorf("log lacks the error with its line:\n%s", rs.log)
	}
	if h := rs.readyHash(t); h != hash {
		t.Errorf("/readyz config_hash = %s after a failed reload, want the running %s", h, hash)
	}
	evID = rs.faxFailed(t, "1002")
	want = rs.deliveryID(t, evID)
	eventually(t, "delivery by the old rules", func() bool { got := right.got(); return got[len(got)-1] == want })

	// Fixing the file changes the rules within the debounce.
	hash = rs.write(t, webhookConfig(rightSrv.URL, `status == "success"`))
	eventually(t, "the fixed file to load", func() bool { return rs.readyHash(t) == hash })
	rs.faxFailed(t, "1003")
	if ds := rs.deliveries(t, store.Filter{Subject: "1003"}); len(ds) != 0 {
		t.Errorf("the new rule matches only successes, got %d deliveries", len(ds))
	}
}

// SIGHUP (the Reload channel) and POST /-/reload reload without a watcher;
// the endpoint answers with the outcome.
func TestReloadBySignalAndEndpoint(t *testing.T) {
	rs := startReloadService(t, false, webhookConfig("http://127.0.0.1:1/", "false"))
	first := rs.readyHash(t)

	hash := rs.write(t, webhookConfig("http://127.0.0.1:1/", "true"))
	if h := rs.readyHash(t); h != first {
		t.Fatalf("reloaded without a watcher or signal")
	}
	rs.reload <- struct{}{}
	eventually(t, "the reload on SIGHUP", func() bool { return rs.readyHash(t) == hash })

	post := func() (int, ReloadResult) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, rs.admin+"/-/reload", nil)
		req.Header.Set("X-Switchboard", "1") // no token on loopback: a header no web page can send
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res ReloadResult
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, res
	}
	rs.write(t, webhookConfig("http://127.0.0.1:1/", "nope"))
	code, res := post()
	if code != 422 || res.OK || res.ConfigHash != hash || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "rules.yaml:14: rule \"failed\": when: unknown name nope") {
		t.Errorf("broken file: %d %+v", code, res)
	}
	// A new listen address needs a restart: the rest applies, and the
	// answer says so.
	rs.configPreface = strings.Replace(rs.configPreface, "listen: 127.0.0.1:0", "listen: 127.0.0.1:9", 1)
	hash2 := rs.write(t, webhookConfig("http://127.0.0.1:1/", "true"))
	code, res = post()
	if code != 200 || !res.OK || !res.Changed || res.ConfigHash != hash2 || len(res.RestartRequired) != 1 || res.RestartRequired[0] != "listen" {
		t.Errorf("fixed file: %d %+v", code, res)
	}
	if h := rs.readyHash(t); h != hash2 {
		t.Errorf("/readyz config_hash = %s, want %s", h, hash2)
	}
}

// Removing a sink holds its pending deliveries (state no_sink, visible in
// the delivery log); configuring it again sends them.
func TestReloadRemovedSink(t *testing.T) {
	hook := &idRecorder{status: 503}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	rs := startReloadService(t, false, webhookConfig(srv.URL, "true"))
	evID := rs.faxFailed(t, "2001")
	eventually(t, "a failed attempt", func() bool { return len(hook.got()) > 0 })

	rs.write(t, "sinks: {audit: {type: log}}\nrules: [{name: all, when: 'true', to: [audit]}]\n")
	rs.reload <- struct{}{}
	eventually(t, "the delivery to be held", func() bool {
		ds := rs.deliveries(t, store.Filter{Sink: "api"})
		return len(ds) == 1 && ds[0].State == store.StateNoSink
	})
	if !strings.Contains(rs.log.String(), "pending deliveries held") {
		t.Errorf("no log line about the held delivery:\n%s", rs.log)
	}

	hook.mu.Lock()
	hook.status = 200
	hook.mu.Unlock()
	rs.write(t, webhookConfig(srv.URL, "true"))
	rs.reload <- struct{}{}
	want := rs.deliveryID(t, evID)
	eventually(t, "the held delivery to go out", func() bool {
		ds := rs.deliveries(t, store.Filter{Sink: "api"})
		return len(ds) == 1 && ds[0].State == store.StateDelivered
	})
	if got := hook.got(); got[len(got)-1] != want {
		t.Errorf("webhook-id %s, want %s", got[len(got)-1], want)
	}
}

// deliveryID returns the id of the one delivery of an event.
func (rs *reloadService) deliveryID(t *testing.T, evID string) string {
	t.Helper()
	ds := rs.deliveries(t, store.Filter{EventID: evID})
	if len(ds) != 1 {
		t.Fatalf("deliveries of %s = %d, want 1", evID, len(ds))
	}
	return ds[0].ID
}
