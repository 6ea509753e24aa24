package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/receivers/telesign"
)

// hookRecorder is a webhook sink's target that records the events posted.
type hookRecorder struct {
	mu     sync.Mutex
	events []map[string]any
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev map[string]any
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *hookRecorder) snapshot() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.events...)
}

// waitEvents polls until the recorder holds n events.
func (h *hookRecorder) waitEvents(t *testing.T, n int) []map[string]any {
	t.Helper()
	var evs []map[string]any
	if !testutil.WaitFor(10*time.Second, func() bool { evs = h.snapshot(); return len(evs) >= n }) {
		t.Fatalf("webhook got %d events, want %d", len(evs), n)
	}
	return evs
}

// serve runs the whole service on cfg (listen and admin are set to free
// loopback ports) and returns the callback base URL and the store path.
func serve(t *testing.T, cfg string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	cfg = fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nstore: %s\n%s", filepath.Join(dir, "sb.db"), cfg)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Options{ConfigPath: path, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready: func(listen, admin string) { ready <- listen }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr, filepath.Join(dir, "sb.db")
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	return "", ""
}

const (
	tsCustomer = "AAAAAAAA-BBBB-CCCC-DDDD-000000000001"
	tsKey      = "bWFkZS11cC10ZWxlc2lnbi1rZXktZm9yLWRvY3Mtb25seS0wMTIzNDU2Nzg5"
)

func postSigned(t *testing.T, url, body, signedBody string) int {
	t.Helper()
	sig, err := telesign.Sign(tsKey, []byte(signedBody))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "TSA "+tsCustomer+":"+sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func tsBody(ref string, code int, desc, updated string) string {
	return fmt.Sprintf(`{"status":{"updated_on":"%s","code":%d,"description":"%s"},"submit_timestamp":"2024-05-02T10:15:27.000000Z","errors":[],"reference_id":"%s","sub_resource":"sms"}`,
		updated, code, desc, ref)
}

// A signed Telesign callback reaches a webhook sink through the real
// server; a tampered one is refused; resends, arrays and out-of-order
// statuses behave as documented.
func TestTelesignEndToEnd(t *testing.T) {
	rec := &hookRecorder{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	base, storePath := serve(t, fmt.Sprintf(`
receivers:
  telesign: {type: telesign, customer_id: %s, api_key: %s}
sinks:
  api: {type: webhook, url: "%s"}
rules:
  - {name: all, when: "true", to: [api]}
`, tsCustomer, tsKey, hook.URL))
	url := base + "/hooks/telesign"

	delivered := tsBody("0123456789ABCDEF0123456789ABCDEF", 200, "Delivered to handset", "2024-05-02T10:15:30.123456Z")
	if code := postSigned(t, url, delivered, delivered); code != 200 {
		t.Fatalf("signed callback: %d", code)
	}
	ev := rec.waitEvents(t, 1)[0]
	if ev["type"] != "sms" || ev["status"] != "success" || ev["final"] != true || ev["code"] != float64(200) ||
		ev["subject"] != "0123456789ABCDEF0123456789ABCDEF" || ev["source"] != "telesign" {
		t.Errorf("event = %v", ev)
	}

	tampered := strings.Replace(delivered, "ABCDEF\"", "ABCDEE\"", 1)
	if code := postSigned(t, url, tampered, delivered); code != 401 {
		t.Errorf("one byte changed: %d, want 401", code)
	}
	if code := postSigned(t, url, delivered, delivered); code != 200 {
		t.Errorf("resend: %d, want 200", code)
	}

	late := tsBody("0123456789ABCDEF0123456789ABCDEF", 203, "Delivered to gateway", "2024-05-02T10:15:29.000000Z")
	if code := postSigned(t, url, late, late); code != 200 {
		t.Fatalf("late 203: %d", code)
	}
	array := "[" + tsBody("A1", 200, "Delivered to handset", "2024-05-02T10:15:30Z") + "," +
		tsBody("A2", 211, "Permanent phone error", "2024-05-02T10:15:30Z") + "," +
		tsBody("A3", 290, "Message in progress", "2024-05-02T10:15:30Z") + "]"
	if code := postSigned(t, url, array, array); code != 200 {
		t.Fatalf("array: %d", code)
	}
	evs := rec.waitEvents(t, 5)
	// The delivery log holds exactly these five: the tampered callback
	// stored nothing and the resend created no delivery.
	st, err := store.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ds, err := st.List(context.Background(), store.Filter{}); err != nil || len(ds) != 5 {
		t.Fatalf("delivery log has %d deliveries (%v), want 5", len(ds), err)
	}
	stale := evs[1]
	if stale["code"] != float64(203) || stale["stale"] != true || stale["previous_status"] != "success" {
		t.Errorf("203 after 200 = %v, want stale with previous_status success", stale)
	}
	statuses := map[string]string{}
	for _, e := range evs[2:] {
		statuses[e["subject"].(string)] = e["status"].(string)
	}
	if statuses["A1"] != "success" || statuses["A2"] != "failure" || statuses["A3"] != "pending" {
		t.Errorf("array events = %v", statuses)
	}
}

// A second serve on the same SQLite file is refused: it would take over the
// first one's leases and send its in-flight deliveries again.
func TestSecondServeOnSQLiteRefused(t *testing.T) {
	_, storePath := serve(t, "sinks: {audit: {type: log}}\n")
	path := filepath.Join(t.TempDir(), "rules.yaml")
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nstore: %s\nsinks: {audit: {type: log}}\n", storePath)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Serve(context.Background(), Options{ConfigPath: path, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "in use by another switchboard serve") {
		t.Fatalf("second serve: %v, want it refused", err)
	}
}
