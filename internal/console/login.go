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
	http.SetCookie(w, server.NewSession(want, c.now().Add(server.SessionTTL), r.TLS != nil))
	c.rt.Log().Info("console: logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the browser's session.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.post(w, r, 16<<10) {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: server.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
