package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An InterFAX callback token shorter than 16 characters is a config error
// at the token's line, like a short admin_token.
func TestInterfaxTokenMinimumLength(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	cfg := "store: " + filepath.Join(dir, "sb.db") + `
receivers:
  fax:
    type: interfax
    token: short-tok3n
sinks:
  audit: {type: log}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, slog.New(slog.DiscardHandler))
	want := path + `:5: receiver "fax": token must be at least 16 characters`
	if err == nil || err.Error() != want {
		t.Fatalf("Load = %v, want %s", err, want)
	}
	if strings.Contains(err.Error(), "short-tok3n") {
		t.Error("the error shows the token")
	}
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, "short-tok3n", "long-enough-tok3n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("16+ characters: %v", err)
	}
}
