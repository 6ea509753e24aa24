package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSession(t *testing.T) {
	const token = "s3cr3t-admin-token"
	now := time.Now()
	good := NewSession(token, now.Add(time.Hour), false)
	if !good.HttpOnly || good.SameSite != http.SameSiteStrictMode || strings.Contains(good.Value, token) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, without the token", good)
	}
	if !NewSession(token, now.Add(time.Hour), true).Secure {
		t.Error("a session made over TLS is not Secure")
	}
	exp, mac, _ := strings.Cut(good.Value, ".")
	for _, tc := range []struct {
		name, value, token string
		at                 time.Time
		ok                 bool
	}{
		{"valid", good.Value, token, now, true},
		{"expired", good.Value, token, now.Add(2 * time.Hour), false},
		{"token changed", good.Value, "another-admin-token", now, false},
		{"expiry pushed back", "9999999999." + mac, token, now, false},
		{"no MAC", exp, token, now, false},
		{"no token configured", good.Value, "", now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tc.value})
			if got := ValidSession(req, tc.token, tc.at); got != tc.ok {
				t.Errorf("ValidSession = %v, want %v", got, tc.ok)
			}
		})
	}
}

// A session cookie stands in for the bearer token; a browser without
// either is sent to the login form, a script gets 401; the login form is
// open.
func TestRequireTokenSession(t *testing.T) {
	const token = "s3cr3t-admin-token"
	h := RequireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }), func() string { return token })
	session := NewSession(token, time.Now().Add(time.Hour), false)
	for _, tc := range []struct {
		name, path, accept string
		cookie             *http.Cookie
		code               int
		location           string
	}{
		{"page with session", "/rules", "text/html", session, 299, ""},
		{"API with session", "/api/deliveries", "", session, 299, ""},
		{"page without session", "/rules?x=1", "text/html,application/xhtml+xml", nil, http.StatusSeeOther, "/login?next=%2Frules%3Fx%3D1"},
		{"script without token", "/rules", "", nil, http.StatusUnauthorized, ""},
		{"forged session", "/rules", "text/html", &http.Cookie{Name: SessionCookie, Value: "9999999999.forged"}, http.StatusSeeOther, "/login?next=%2Frules"},
		{"login form", "/login", "text/html", nil, 299, ""},
		{"style sheet", "/assets/console.css", "", nil, 299, ""},
		{"other assets", "/assets/other", "", nil, http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || rec.Header().Get("Location") != tc.location {
				t.Errorf("%d Location %q, want %d %q", rec.Code, rec.Header().Get("Location"), tc.code, tc.location)
			}
		})
	}
}

// The console's forms carry a CSRF token its handlers check, so they need
// no non-simple header; they must still be same-origin.
func TestGuardBrowsersForms(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	h := GuardBrowsers(ok, true, "/retry")
	for _, tc := range []struct {
		name, path, origin string
		code               int
	}{
		{"same-origin form", "/retry", "http://127.0.0.1:9090", 299},
		{"cross-site form", "/retry", "https://attacker.example", 403},
		{"form to another path", "/-/reload", "http://127.0.0.1:9090", 403},
		{"form below the path", "/retry/x", "http://127.0.0.1:9090", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader("csrf=x"))
			req.Host = "127.0.0.1:9090"
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("%d, want %d", rec.Code, tc.code)
			}
		})
	}
}
