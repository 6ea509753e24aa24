package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SessionCookie names the cookie the web console's login sets: proof that
// its holder gave the admin token, so a browser need not send the token
// with every request. It holds an expiry and a MAC keyed by the token, not
// the token itself; changing admin_token ends every session.
const SessionCookie = "switchboard_session"

// SessionTTL is how long a console login lasts.
const SessionTTL = 12 * time.Hour

// NewSession returns a session cookie for token, valid until exp. It is
// HttpOnly (no script reads it) and SameSite=Strict (no other site's page
// sends it); Secure when the login came over TLS.
func NewSession(token string, exp time.Time, secure bool) *http.Cookie {
	v := strconv.FormatInt(exp.Unix(), 10)
	return &http.Cookie{Name: SessionCookie, Value: v + "." + sessionMAC(token, v), Path: "/",
		Expires: exp, MaxAge: int(time.Until(exp).Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// ValidSession reports whether the request carries a session cookie made
// with token that has not expired.
func ValidSession(r *http.Request, token string, now time.Time) bool {
	c, err := r.Cookie(SessionCookie)
	if err != nil || token == "" {
		return false
	}
	v, mac, ok := strings.Cut(c.Value, ".")
	exp, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || now.Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(sessionMAC(token, v)))
}

func sessionMAC(token, v string) string {
	m := hmac.New(sha256.New, []byte("switchboard console session\x00"+token))
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// wantsHTML reports whether a request comes from a browser navigating to
// a page (which a login form serves better than a JSON 401).
func wantsHTML(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// NoStore marks every answer of next as not to be cached, framed or
// sniffed: the admin listener's JSON holds vendor data (phone numbers, SMS
// text) that a browser with a console session can open, and its refusals
// come before any page. The console sets its own stricter headers on top.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
