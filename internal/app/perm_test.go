package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// A new SQLite store, its write-ahead log and its shared-memory index are
// readable by the owner only, whatever the umask; an existing store that
// others can read is reported.
func TestPrepareSQLiteOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes")
	}
	path := filepath.Join(t.TempDir(), "sb.db")
	if w, err := PrepareSQLite("sqlite://" + path); err != nil || w != "" {
		t.Fatalf("PrepareSQLite = %q, %v", w, err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := &event.Event{Source: "test", Type: "test", Subject: "s", Status: event.StatusSuccess, DedupKey: "s|1"}
	ev.Seal("r", time.Now())
	if _, err := st.Ingest(ctx, []*event.Event{ev}, func(*event.Event) rules.Result { return rules.Result{} }, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
		if fi.Size() == 0 && p == path {
			t.Errorf("%s: empty after a write", filepath.Base(p))
		}
	}

	old := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(old, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o644) // whatever the umask
	if w, err := PrepareSQLite(old); err != nil || !strings.Contains(w, "readable by group or others (mode 0644)") {
		t.Errorf("existing 0644 store: PrepareSQLite = %q, %v; want a warning", w, err)
	}
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o644 {
		t.Errorf("an existing store's mode changed to %04o", fi.Mode().Perm())
	}
}

// Serve warns at start about a configuration file that others can read
// and that holds secrets written in it; secrets from ${VAR}, or a file only
// its owner reads, are fine.
func TestConfigModeWarning(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes")
	}
	t.Setenv("SB_TEST_WEBHOOK_SECRET", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0")
	t.Setenv("SB_TEST_WEBHOOK_URL", "https://example.com/y?token=from-the-environment")
	const inline = `admin_token: inline-admin-token-0123456789
sinks:
  api: {type: webhook, url: "https://example.com/x", secret: "whsec_aW5saW5lLWlubGluZS1pbmxpbmUtaW5saW5l"}
  api2: {type: webhook, url: "${SB_TEST_WEBHOOK_URL}", secret: "${SB_TEST_WEBHOOK_SECRET}"}
`
	const fromEnv = `sinks:
  api2: {type: webhook, url: "${SB_TEST_WEBHOOK_URL}", secret: "${SB_TEST_WEBHOOK_SECRET}"}
`
	for _, tc := range []struct {
		name, cfg string
		mode      os.FileMode
		want      string // "" for no warning
	}{
		{"inline, world-readable", inline, 0o644, `holds secrets written in it (admin_token, sink "api" secret, sink "api" url)`},
		{"inline, group-readable", inline, 0o640, "mode 0640"},
		{"inline, owner only", inline, 0o600, ""},
		{"from variables, world-readable", fromEnv, 0o644, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(path, []byte("store: "+filepath.Join(dir, "sb.db")+"\n"+tc.cfg), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.mode)
			b, err := Load(path, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			w := configModeWarning(path, b)
			if (tc.want == "") != (w == "") || !strings.Contains(w, tc.want) {
				t.Errorf("warning %q, want %q", w, tc.want)
			}
			if strings.Contains(w, "aW5saW5l") || strings.Contains(w, "inline-admin") {
				t.Errorf("the warning shows a secret: %s", w)
			}
		})
	}
}
