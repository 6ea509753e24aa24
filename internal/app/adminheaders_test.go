package app

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Every answer of the admin listener stays out of caches and frames, not
// only the console's pages: the delivery log's JSON is vendor data (phone
// numbers, SMS text) that a browser with a console session can open, and
// the refusals (401, the login redirect) come before any page.
func TestAdminAnswersNoStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	const token = "admin-token-for-tests-0123456789"
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\nadmin: \":0\"\nadmin_token: %s\nstore: %s\nsinks: {audit: {type: log}}\n",
		token, filepath.Join(dir, "sb.db"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := serveAdmin(t, path)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		name, method, path, auth, accept string
		code                             int
	}{
		{"the delivery log", "GET", "/api/deliveries", "Bearer " + token, "", http.StatusOK},
		{"an unknown delivery", "GET", "/api/deliveries/msg_x", "Bearer " + token, "", http.StatusNotFound},
		{"no token", "GET", "/api/deliveries", "", "", http.StatusUnauthorized},
		{"a page without a session", "GET", "/", "", "text/html", http.StatusSeeOther},
		{"a cross-site POST", "POST", "/-/reload", "Bearer " + token, "", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, admin+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.method == "POST" {
				req.Header.Set("Origin", "https://evil.example")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if resp.StatusCode != tc.code || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" ||
				h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s: %d (want %d), Cache-Control %q, X-Frame-Options %q, X-Content-Type-Options %q",
					tc.method, tc.path, resp.StatusCode, tc.code, h.Get("Cache-Control"), h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"))
			}
		})
	}
}
