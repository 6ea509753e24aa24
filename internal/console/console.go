// Package console is the admin web console: the delivery log, one
// delivery with its rendered message and attempts, a subject's timeline,
// the running rules and sinks, and a dry run of a pasted callback, served
// by `serve` at / on the admin listener behind the admin token.
//
// It exists so the operator paged at night has a page rather than a
// terminal: what came in, what was sent where, what failed and why, and a
// button to send it again. It is a view over what the service already
// has — the store's delivery log queries and retry, the dry run of
// `switchboard test`, the running configuration — and owns no logic of
// its own beyond presenting them.
//
// Design: server-rendered pages from html/template, embedded with embed,
// and one small plain JavaScript file. htmx was considered and not taken:
// the console needs two dynamic behaviours (new rows appearing in the
// delivery log, a pending delivery's page refreshing when it settles),
// which take about forty lines of fetch; a vendored htmx would be ~50 KB
// of third-party code to review and update for that, and its attribute
// handlers sit less easily with a script-src 'self' policy. Every page
// reads fully without JavaScript; forms (login, retry, try) are plain
// HTML POSTs with a CSRF token, and the bulk retry asks for confirmation
// on a server-rendered page that names the count, so it works without
// JavaScript too. html/template escapes every vendor string by context: a
// fax RemoteCSID of <script> is text.
//
// Security: the admin token guards the console (server.RequireToken)
// either as a bearer header or as the HttpOnly, SameSite=Strict session
// cookie the login form sets; every POST carries a CSRF token bound to a
// cookie of its own; every response forbids framing, caching and any
// script or style not served from here (Content-Security-Policy).
package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"time"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/server"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Console serves the pages for one running service.
type Console struct {
	rt    app.Running
	pages map[string]*pageTemplate
	// key signs CSRF tokens when no admin token is configured (loopback
	// only, so one process); with a token they are keyed by it, so every
	// instance behind a load balancer accepts them.
	key []byte
	now func() time.Time
}

// Forms are the paths of the console's HTML form POSTs: each checks the
// CSRF token itself.
var Forms = []string{"/login", "/logout", "/retry", "/try"}

// New returns the console for rt, as app.Options.Console wants it.
func New(rt app.Running) app.Pages {
	c := &Console{rt: rt, pages: parsePages(), key: make([]byte, 32), now: time.Now}
	_, _ = rand.Read(c.key)
	return app.Pages{Handler: c.Handler(), Forms: Forms}
}

// Handler routes the console's pages and wraps them in its security
// headers.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	assets, _ := fs.Sub(assetFS, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /{$}", c.deliveries)
	mux.HandleFunc("GET /rows", c.rows)
	mux.HandleFunc("GET /deliveries/{id}", c.delivery)
	mux.HandleFunc("GET /deliveries/{id}/state", c.deliveryState)
	mux.HandleFunc("GET /retry", c.confirmRetry)
	mux.HandleFunc("POST /retry", c.retry)
	mux.HandleFunc("GET /subjects/{subject}", c.subject)
	mux.HandleFunc("GET /rules", c.rules)
	mux.HandleFunc("GET /try", c.tryForm)
	mux.HandleFunc("POST /try", c.try)
	mux.HandleFunc("GET /login", c.loginForm)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.logout)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "There is no page "+r.URL.Path+".")
	})
	return secure(mux)
}

// secure sets the headers every console response carries: vendor data is
// personal data (no caching), no page may frame the console, and nothing
// but this origin's own script and style runs.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer a browser sends
		// "Origin: null" on form POSTs, which GuardBrowsers refuses.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// csrfCookie holds a random value per browser; a form's CSRF token is its
// MAC, which a page of another origin can neither read nor compute.
const csrfCookie = "switchboard_csrf"

// csrfToken returns the token for the forms of the page being served,
// setting the browser's CSRF cookie first when it has none.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		v = ck.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		v = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true,
			Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	}
	return c.mac(v)
}

// csrfValid reports whether a POST carries the token of its cookie.
func (c *Console) csrfValid(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.mac(ck.Value)))
}

func (c *Console) mac(v string) string {
	key := c.key
	if t := c.rt.AdminToken(); t != "" {
		k := sha256.Sum256([]byte("switchboard console csrf\x00" + t))
		key = k[:]
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// post checks a form POST: its size, and its CSRF token. It answers the
// refusal itself and reports whether to go on.
func (c *Console) post(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, http.StatusRequestEntityTooLarge, "The form is too large or malformed.")
		return false
	}
	if !c.csrfValid(r) {
		c.fail(w, r, http.StatusForbidden, "This form has no valid CSRF token: reload the page and submit it again.")
		return false
	}
	return true
}

// loggedIn reports whether the request has a console session (as
// opposed to a bearer header, or no token being configured).
func (c *Console) loggedIn(r *http.Request) bool {
	return server.ValidSession(r, c.rt.AdminToken(), c.now())
}
