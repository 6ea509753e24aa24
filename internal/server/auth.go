package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OpenPaths are the admin endpoints that answer without the admin token:
// orchestrator probes (Kubernetes, load balancers) cannot send one, and
// they reveal nothing but liveness and the configuration hash; the web
// console's login form and its style sheet and script reveal nothing.
var OpenPaths = []string{"/healthz", "/readyz", "/login", "/assets/console.css", "/assets/console.js"}

// LoginPath is where a browser without a session is sent.
const LoginPath = "/login"

// RequireToken guards next with the admin token: every request but those
// for OpenPaths must carry "Authorization: Bearer <token>" or a session
// cookie from the console's login (NewSession). token is read at each
// request (it follows reloads); while it returns "", nothing is required.
// The comparison takes the same time whatever the guess. A browser asking
// for a page without either is sent to the login form.
func RequireToken(next http.Handler, token func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := token()
		if want == "" || isOpen(r.URL.Path) || ValidSession(r, want, time.Now()) {
			next.ServeHTTP(w, r)
			return
		}
		if !TokenMatches(r.Header.Get("Authorization"), want) {
			if wantsHTML(r) {
				http.Redirect(w, r, LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "missing or wrong admin token (Authorization: Bearer …)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TokenMatches reports whether an Authorization header value is
// "Bearer <want>". Hashing first makes the comparison take the same time
// whatever the guess and its length.
func TokenMatches(authorization, want string) bool {
	got, ok := strings.CutPrefix(authorization, "Bearer ")
	return ok && SameSecret(strings.TrimSpace(got), want)
}

// SameSecret compares a secret given by a client with the expected one in
// constant time.
func SameSecret(got, want string) bool {
	g, x := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return want != "" && subtle.ConstantTimeCompare(g[:], x[:]) == 1
}

func isOpen(path string) bool {
	for _, p := range OpenPaths {
		if path == p {
			return true
		}
	}
	return false
}

// GuardBrowsers keeps the web pages an operator's browser opens away from
// the admin listener, which may run without a token on loopback:
//
//   - On a loopback listener, only requests whose Host names loopback
//     (localhost, 127.0.0.1, [::1], any port) are served; others get 421.
//     A page on a name that a DNS rebinding points at 127.0.0.1 sends its
//     own name, so it cannot read the delivery log.
//   - A request that changes state (any method but GET, HEAD and OPTIONS)
//     is refused with 403 when its Origin is another origin or its
//     Sec-Fetch-Site says cross-site or same-site, and unless it carries a
//     header no HTML form or simple cross-site request can send:
//     Authorization, X-Switchboard, or Content-Type: application/json.
//     Browsers preflight such requests, and nothing here answers a
//     preflight, so a page cannot make them. The exception are POSTs to
//     formPaths: the web console's own HTML forms, whose handlers refuse
//     any without the CSRF token of the console's page; they too must be
//     same-origin.
func GuardBrowsers(next http.Handler, loopback bool, formPaths ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback && !loopbackHost(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]any{"error": "the admin listener is loopback: use a loopback Host (localhost, 127.0.0.1, [::1])"})
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" || !sameOrigin(r) {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "cross-site request refused"})
			return
		}
		if !nonSimple(r) && !slices.Contains(formPaths, r.URL.Path) {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "send Authorization, X-Switchboard: 1 or Content-Type: application/json with this request"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this host's loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether r has no Origin or one naming its own Host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// nonSimple reports whether r carries a header a browser would preflight.
func nonSimple(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Switchboard") != "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
