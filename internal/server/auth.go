package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// OpenPaths are the admin endpoints that answer without the admin token:
// orchestrator probes (Kubernetes, load balancers) cannot send one, and
// they reveal nothing but liveness and the configuration hash.
var OpenPaths = []string{"/healthz", "/readyz"}

// RequireToken guards next with a bearer token: every request but those
// for OpenPaths must carry "Authorization: Bearer <token>". token is read
// at each request (it follows reloads); while it returns "", nothing is
// required. The comparison takes the same time whatever the guess.
func RequireToken(next http.Handler, token func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := token()
		if want == "" || isOpen(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Hashing first makes the comparison independent of the lengths.
		g, x := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(want))
		if !ok || subtle.ConstantTimeCompare(g[:], x[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "missing or wrong admin token (Authorization: Bearer …)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isOpen(path string) bool {
	for _, p := range OpenPaths {
		if path == p {
			return true
		}
	}
	return false
}
