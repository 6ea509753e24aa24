package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A reload that drops admin_token while the admin listener is bound beyond
// loopback is refused, even when it also moves admin to a loopback address
// (which needs a restart to take effect): the old token stays required.
func TestReloadKeepsAdminAuthOnPublicListener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	const token = "admin-token-for-tests-0123456789"
	base := fmt.Sprintf("listen: 127.0.0.1:0\nstore: %s\nsinks: {audit: {type: log}}\n", filepath.Join(dir, "sb.db"))
	if err := os.WriteFile(path, []byte(base+"admin: \":0\"\nadmin_token: "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := serveAdmin(t, path)

	if err := os.WriteFile(path, []byte(base+"admin: 127.0.0.1:9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := adminGet(t, "POST", admin+"/-/reload", token)
	if code != 422 || !strings.Contains(body, "admin_token is required: the admin listener is bound to") {
		t.Errorf("reload dropping the token: %d %s, want 422 naming admin_token", code, body)
	}
	if code, _ := adminGet(t, "GET", admin+"/api/deliveries", ""); code != 401 {
		t.Errorf("after the refused reload, /api/deliveries without a token: %d, want 401", code)
	}
	if code, _ := adminGet(t, "GET", admin+"/api/deliveries", token); code != 200 {
		t.Errorf("with the old token: %d, want 200", code)
	}

	// Keeping a token is fine; moving admin is reported as needing a
	// restart.
	other := "another-admin-token-0123456789"
	if err := os.WriteFile(path, []byte(base+"admin: 127.0.0.1:9999\nadmin_token: "+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body = adminGet(t, "POST", admin+"/-/reload", token)
	if code != 200 || !strings.Contains(body, `"restart_required":["admin"]`) {
		t.Errorf("reload with a new token: %d %s", code, body)
	}
	if code, _ := adminGet(t, "GET", admin+"/api/deliveries", other); code != 200 {
		t.Errorf("with the new token: %d, want 200", code)
	}
}

// On the real loopback admin listener without a token, a web page cannot
// reload or re-queue (a simple cross-site POST is refused) nor read the
// delivery log through a rebinding name; the operator's curl with
// X-Switchboard: 1 can.
func TestLoopbackAdminRefusesBrowsers(t *testing.T) {
	_, admin, _ := opsService(t, "sinks: {audit: {type: log}}\n")
	do := func(method, path, host string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, nil)
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	form := map[string]string{"Origin": "https://attacker.example", "Content-Type": "application/x-www-form-urlencoded"}
	for _, path := range []string{"/-/reload", "/api/deliveries/retry?dead=1"} {
		if code := do("POST", path, "", form); code != 403 {
			t.Errorf("cross-site POST %s: %d, want 403", path, code)
		}
		if code := do("POST", path, "", nil); code != 403 {
			t.Errorf("POST %s without a non-simple header: %d, want 403", path, code)
		}
	}
	if code := do("GET", "/api/deliveries", "rebound.attacker.example:9090", nil); code != 421 {
		t.Errorf("read through a rebinding Host: %d, want 421", code)
	}
	if code := do("GET", "/api/deliveries", "", nil); code != 200 {
		t.Errorf("local read: %d, want 200", code)
	}
	if code := do("POST", "/-/reload", "", map[string]string{"X-Switchboard": "1"}); code != 200 {
		t.Errorf("local reload with X-Switchboard: %d, want 200", code)
	}
}

// serveAdmin runs serve on the configuration at path, whose admin
// listener is on all interfaces, and returns its loopback base URL.
func serveAdmin(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Options{ConfigPath: path, Log: slog.New(slog.DiscardHandler),
			Ready: func(_, admin string) { ready <- admin }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		_, port, _ := net.SplitHostPort(a)
		return "http://127.0.0.1:" + port
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	return ""
}
