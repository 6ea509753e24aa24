package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGuardBrowsers(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	tests := []struct {
		name, method, host string
		header             map[string]string
		public             bool // listener bound beyond loopback
		code               int
	}{
		{"read on localhost", "GET", "localhost:9090", nil, false, 299},
		{"read on 127.0.0.1", "GET", "127.0.0.1:9090", nil, false, 299},
		{"read on [::1]", "GET", "[::1]:9090", nil, false, 299},
		{"read on 127.0.0.2 without port", "GET", "127.0.0.2", nil, false, 299},
		{"DNS rebinding read", "GET", "attacker.example:9090", nil, false, 421},
		{"rebinding probe", "GET", "evil.localhost.attacker.example", nil, false, 421},
		{"any Host on a public listener", "GET", "switchboard.internal:9090", nil, true, 299},
		{"simple cross-site form POST", "POST", "127.0.0.1:9090", map[string]string{"Origin": "https://attacker.example", "Content-Type": "application/x-www-form-urlencoded"}, false, 403},
		{"cross-site fetch metadata", "POST", "127.0.0.1:9090", map[string]string{"Sec-Fetch-Site": "cross-site", "X-Switchboard": "1"}, false, 403},
		{"same-site page on another port", "POST", "127.0.0.1:9090", map[string]string{"Sec-Fetch-Site": "same-site", "X-Switchboard": "1"}, false, 403},
		{"null origin", "POST", "127.0.0.1:9090", map[string]string{"Origin": "null", "X-Switchboard": "1"}, false, 403},
		{"POST with no non-simple header", "POST", "127.0.0.1:9090", nil, false, 403},
		{"text/plain POST", "POST", "127.0.0.1:9090", map[string]string{"Content-Type": "text/plain"}, false, 403},
		{"curl with X-Switchboard", "POST", "127.0.0.1:9090", map[string]string{"X-Switchboard": "1"}, false, 299},
		{"JSON POST", "POST", "localhost:9090", map[string]string{"Content-Type": "application/json; charset=utf-8"}, false, 299},
		{"with a token", "POST", "switchboard.internal:9090", map[string]string{"Authorization": "Bearer x"}, true, 299},
		{"same origin", "POST", "127.0.0.1:9090", map[string]string{"Origin": "http://127.0.0.1:9090", "Sec-Fetch-Site": "same-origin", "X-Switchboard": "1"}, false, 299},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/-/reload", nil)
			req.Host = tc.host
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			GuardBrowsers(ok, !tc.public).ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status %d %s, want %d", rec.Code, rec.Body.String(), tc.code)
			}
		})
	}
}
