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
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// opsService runs the service on cfg and returns the callback and admin
// base URLs and the config path (to rewrite for reloads).
func opsService(t *testing.T, cfg string) (hooks, admin, path string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "rules.yaml")
	cfg = fmt.Sprintf("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nstore: %s\n%s", filepath.Join(dir, "sb.db"), cfg)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ listen, admin string }
	ready := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Options{ConfigPath: path, Log: slog.New(slog.DiscardHandler),
			Ready: func(listen, admin string) { ready <- addrs{listen, admin} }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		return "http://" + a.listen, "http://" + a.admin, path
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	return "", "", ""
}

func adminGet(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitMetric polls /metrics until the sample has the value.
func waitMetric(t *testing.T, admin, token, sample string, want float64) {
	t.Helper()
	var last string
	ok := testutil.WaitFor(10*time.Second, func() bool {
		_, body := adminGet(t, "GET", admin+"/metrics", token)
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, sample+" "); ok {
				last = v
				return v == fmt.Sprint(want)
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("%s = %q, want %v", sample, last, want)
	}
}

// The admin listener serves /metrics and the delivery log API behind the
// admin token (probes stay open); metrics count what happened, reloads
// report their status, and retention prunes in the background.
func TestAdminOperations(t *testing.T) {
	first, every := retentionFirst, retentionEvery
	retentionFirst, retentionEvery = 10*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { retentionFirst, retentionEvery = first, every })

	const token = "admin-token-for-tests-0123456789"
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	cfg := fmt.Sprintf(`admin_token: %s
retention: {delivered: 300ms, dead: 1h}
receivers:
  ts: {type: telesign, customer_id: %s, api_key: %s}
sinks:
  api: {type: webhook, url: %q}
rules:
  - {name: everything, when: 'true', to: [api]}
`, token, tsCustomer, tsKey, hook.URL)
	hooks, admin, path := opsService(t, cfg)

	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := adminGet(t, "GET", admin+p, ""); code != 200 {
			t.Errorf("%s without token: %d, want 200 (probes stay open)", p, code)
		}
	}
	for _, p := range []string{"GET /metrics", "GET /api/deliveries", "POST /-/reload"} {
		method, rest, _ := strings.Cut(p, " ")
		if code, body := adminGet(t, method, admin+rest, ""); code != 401 || strings.Contains(body, token) {
			t.Errorf("%s without token: %d %s", p, code, body)
		}
		if code, _ := adminGet(t, method, admin+rest, "wrong-token-wrong-token"); code != 401 {
			t.Errorf("%s with a wrong token: %d", p, code)
		}
	}

	if code := postSigned(t, hooks+"/hooks/ts", tsBody("ref-1", 200, "Delivered", "2024-05-02T10:15:30.000000Z"),
		tsBody("ref-1", 200, "Delivered", "2024-05-02T10:15:30.000000Z")); code != 200 {
		t.Fatalf("callback: %d", code)
	}
	if code := postSigned(t, hooks+"/hooks/ts", "{}", "tampered"); code != 401 {
		t.Fatalf("bad signature: %d", code)
	}
	waitMetric(t, admin, token, `switchboard_callbacks_total{outcome="accepted",receiver="ts"}`, 1)
	waitMetric(t, admin, token, `switchboard_callbacks_total{outcome="unauthorized",receiver="ts"}`, 1)
	waitMetric(t, admin, token, `switchboard_rule_matches_total{rule="everything"}`, 1)
	waitMetric(t, admin, token, `switchboard_deliveries_total{outcome="delivered",sink="api"}`, 1)
	waitMetric(t, admin, token, `switchboard_delivery_attempt_duration_seconds_count{sink="api"}`, 1)
	waitMetric(t, admin, token, `switchboard_config_last_reload_successful`, 1)
	waitMetric(t, admin, token, `switchboard_store_up`, 1)

	// Delivered 300ms ago: retention prunes it and counts it.
	waitMetric(t, admin, token, `switchboard_retention_pruned_total{kind="delivered"}`, 1)
	waitMetric(t, admin, token, `switchboard_retention_pruned_total{kind="events"}`, 1)
	code, body := adminGet(t, "GET", admin+"/api/deliveries", token)
	var list struct{ Count int }
	if json.Unmarshal([]byte(body), &list); code != 200 || list.Count != 0 {
		t.Errorf("after retention: %d %s", code, body)
	}

	// A reload that fails says so in the metrics; the next good one too.
	good, _ := os.ReadFile(path)
	os.WriteFile(path, append(append([]byte{}, good...), "bogus: 1\n"...), 0o600)
	if code, body := adminGet(t, "POST", admin+"/-/reload", token); code != 422 {
		t.Errorf("bad reload: %d %s", code, body)
	}
	waitMetric(t, admin, token, `switchboard_config_last_reload_successful`, 0)
	waitMetric(t, admin, token, `switchboard_config_reloads_total{result="failure"}`, 1)
	os.WriteFile(path, good, 0o600)
	if code, body := adminGet(t, "POST", admin+"/-/reload", token); code != 200 {
		t.Errorf("good reload: %d %s", code, body)
	}
	waitMetric(t, admin, token, `switchboard_config_last_reload_successful`, 1)
}
