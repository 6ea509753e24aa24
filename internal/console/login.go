package console

import (
	"net/http"
	"strings"

	"github.com/switchboard/switchboard/internal/server"
)

type loginView struct {
	Next     string
	NeedsKey bool // an admin token is configured
	Error    string
}

// safeNext keeps a post-login redirect on this console: a path, not
// another site ("//evil.example" or "/\evil.example"). A browser drops
// tabs and newlines from a Location and reads a backslash as a slash, so
// "/\t/evil.example" is another site too: a next with a control character
// or a backslash anywhere is refused.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	return next
}

// loginForm asks for the admin token.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	v := loginView{Next: safeNext(r.URL.Query().Get("next")), NeedsKey: c.rt.AdminToken() != ""}
	c.render(w, r, http.StatusOK, "login", "Log in", "", v)
}

// login checks the admin token and sets the session cookie. The token is
// never logged.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.post(w, r, 16<<10) {
		return
	}
	want := c.rt.AdminToken()
	next := safeNext(r.PostForm.Get("next"))
	if want == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !server.SameSecret(r.PostForm.Get("token"), want) {
		c.rt.Log().Warn("console: login refused: wrong admin token", "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "login", "Log in", "", loginView{Next: next, NeedsKey: true, Error: "That is not the admin token."})
		return
	}
	http.SetCookie(w, server.NewSession(want, c.now().Add(server.SessionTTL), overTLS(r)))
	c.rt.Log().Info("console: logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the browser's session.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.post(w, r, 16<<10) {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: server.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// overTLS reports whether the browser reached the console over TLS: the
// request came over TLS, or through a reverse proxy that terminated it
// (X-Forwarded-Proto: https, or a form posted from an https page). Cookies
// set then are Secure. A client that claims https on plain HTTP only makes
// its own cookies Secure.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") ||
		strings.HasPrefix(r.Header.Get("Origin"), "https://")
}
