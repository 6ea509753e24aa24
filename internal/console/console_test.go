package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The post-login redirect stays on the console.
func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/rules?x=1":              "/rules?x=1",
		"":                        "/",
		"https://evil.example/":   "/",
		"//evil.example/":         "/",
		"/\\evil.example":         "/",
		"/\t/evil.example":        "/",
		"/a\\b":                   "/",
		"javascript:alert(1)":     "/",
		"/deliveries/msg_1/state": "/deliveries/msg_1/state",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// Block Kit blocks read as Slack shows them: dates by their fallback,
// entities as characters.
func TestReadableBlocks(t *testing.T) {
	blocks, _ := json.Marshal([]map[string]any{
		{"type": "header", "text": map[string]any{"type": "plain_text", "text": "Fax failed"}},
		{"type": "section", "fields": []map[string]any{{"type": "mrkdwn", "text": "*CSID*\n&lt;script&gt; &amp; co"}, {"type": "mrkdwn", "text": "<!date^1796100977^{date_short_pretty}|2026-12-01 04:56 UTC>"}}},
		{"type": "context", "elements": []map[string]any{{"type": "mrkdwn", "text": "Rule *r*"}}},
	})
	got := readableBlocks(blocks)
	want := []slackBlock{
		{Type: "header", Lines: []string{"Fax failed"}},
		{Type: "section", Lines: []string{"*CSID*\n<script> & co", "2026-12-01 04:56 UTC"}},
		{Type: "context", Lines: []string{"Rule *r*"}},
	}
	if g, w := jsonOf(got), jsonOf(want); g != w {
		t.Errorf("readable blocks\n got %s\nwant %s", g, w)
	}
	if readableBlocks(json.RawMessage(`not json`)) != nil {
		t.Error("malformed blocks should read as none")
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// An event's JSON is shown with markup characters as themselves (the
// template escapes them); numbers keep their digits.
func TestPretty(t *testing.T) {
	got := pretty([]byte(`{"b":"\u003cscript\u003e","a":12345678901234567890}`))
	want := "{\n  \"a\": 12345678901234567890,\n  \"b\": \"<script>\"\n}"
	if got != want {
		t.Errorf("pretty = %q, want %q", got, want)
	}
	if got := pretty([]byte("not json")); got != "not json" {
		t.Errorf("pretty of non-JSON = %q", got)
	}
}

// Every response of the console carries the headers that keep it out of
// frames and caches and forbid inline script.
func TestSecureHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	secure(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	h := rec.Header()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("headers %v", h)
	}
}
