package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The watcher reloads once a burst of events has been quiet for the
// debounce, and only when the content (or resolved path) changed.
func TestWatchDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "rules.yaml")
		writeConfig(t, path, "v1")
		var reloads atomic.Int32
		w := &configWatcher{path: path, debounce: 250 * time.Millisecond, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			changed: func() { reloads.Add(1) }, dirs: map[string]bool{}, last: fileState{resolved: path, hash: hashOf("v1")}}
		events := make(chan fsnotify.Event)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go w.loop(ctx, events, nil)
		write := func(name string) { events <- fsnotify.Event{Name: filepath.Join(dir, name), Op: fsnotify.Write} }

		// An editor writing in several steps: one reload, after the quiet period.
		writeConfig(t, path, "v2")
		for range 5 {
			write("rules.yaml")
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		if n := reloads.Load(); n != 0 {
			t.Fatalf("reloaded %d times while events kept coming", n)
		}
		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		if n := reloads.Load(); n != 1 {
			t.Fatalf("reloads = %d after the quiet period, want 1", n)
		}

		// Touching the file without changing it does not reload.
		write("rules.yaml")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := reloads.Load(); n != 1 {
			t.Fatalf("reloads = %d after an event with the same content, want 1", n)
		}

		// Other files in the directory (the SQLite store and its WAL) are
		// ignored even when the config changed meanwhile.
		writeConfig(t, path, "v3")
		write("switchboard.db-wal")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := reloads.Load(); n != 1 {
			t.Fatalf("reloads = %d after an unrelated file changed, want 1", n)
		}
		// A Kubernetes ..data swap is relevant.
		write("..data")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := reloads.Load(); n != 2 {
			t.Fatalf("reloads = %d after ..data changed, want 2", n)
		}

		// A file that is gone (mid-swap) is not reloaded; its return is.
		os.Remove(path)
		write("rules.yaml")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := reloads.Load(); n != 2 {
			t.Fatalf("reloads = %d with the file gone, want 2", n)
		}
		writeConfig(t, path, "v4")
		write("rules.yaml")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := reloads.Load(); n != 3 {
			t.Fatalf("reloads = %d once the file is back, want 3", n)
		}
	})
}

// The real watcher sees the ways a configuration file gets replaced.
func TestWatchFileReplacements(t *testing.T) {
	tests := []struct {
		name string
		// setup creates the config at dir/rules.yaml (directly or by
		// symlink); change replaces its content with "v2".
		setup, change func(t *testing.T, dir string)
	}{
		{
			name:  "in-place write",
			setup: func(t *testing.T, dir string) { writeConfig(t, filepath.Join(dir, "rules.yaml"), "v1") },
			change: func(t *testing.T, dir string) {
				f, err := os.OpenFile(filepath.Join(dir, "rules.yaml"), os.O_WRONLY|os.O_TRUNC, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("v2")
				f.Close()
			},
		},
		{
			name:  "editor rename-over",
			setup: func(t *testing.T, dir string) { writeConfig(t, filepath.Join(dir, "rules.yaml"), "v1") },
			change: func(t *testing.T, dir string) {
				writeConfig(t, filepath.Join(dir, ".rules.yaml.swp"), "v2")
				if err := os.Rename(filepath.Join(dir, ".rules.yaml.swp"), filepath.Join(dir, "rules.yaml")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "git unlink and create",
			setup: func(t *testing.T, dir string) { writeConfig(t, filepath.Join(dir, "rules.yaml"), "v1") },
			change: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "rules.yaml"))
				writeConfig(t, filepath.Join(dir, "rules.yaml"), "v2")
			},
		},
		{
			// A ConfigMap volume: rules.yaml -> ..data/rules.yaml, and
			// ..data -> ..<timestamp>, re-pointed atomically by rename.
			name: "kubernetes ..data symlink swap",
			setup: func(t *testing.T, dir string) {
				mustMkdir(t, filepath.Join(dir, "..2026_01_01_v1"))
				writeConfig(t, filepath.Join(dir, "..2026_01_01_v1", "rules.yaml"), "v1")
				mustSymlink(t, "..2026_01_01_v1", filepath.Join(dir, "..data"))
				mustSymlink(t, "..data/rules.yaml", filepath.Join(dir, "rules.yaml"))
			},
			change: func(t *testing.T, dir string) {
				mustMkdir(t, filepath.Join(dir, "..2026_01_02_v2"))
				writeConfig(t, filepath.Join(dir, "..2026_01_02_v2", "rules.yaml"), "v2")
				mustSymlink(t, "..2026_01_02_v2", filepath.Join(dir, "..data_tmp"))
				if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
					t.Fatal(err)
				}
				os.RemoveAll(filepath.Join(dir, "..2026_01_01_v1"))
			},
		},
		{
			name: "symlink to another directory, target edited",
			setup: func(t *testing.T, dir string) {
				other := filepath.Join(dir, "elsewhere")
				mustMkdir(t, other)
				writeConfig(t, filepath.Join(other, "real.yaml"), "v1")
				mustSymlink(t, filepath.Join(other, "real.yaml"), filepath.Join(dir, "rules.yaml"))
			},
			change: func(t *testing.T, dir string) { writeConfig(t, filepath.Join(dir, "elsewhere", "real.yaml"), "v2") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			path := filepath.Join(dir, "rules.yaml")
			changed := make(chan struct{}, 10)
			w, err := newConfigWatcher(path, hashOf("v1"), 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)),
				func() { changed <- struct{}{} })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.run(ctx)
			}()
			defer func() { cancel(); <-done }()

			tc.change(t, dir)
			select {
			case <-changed:
			case <-time.After(10 * time.Second):
				t.Fatal("no reload after the change")
			}
			cancel()
			<-done
			if w.last.hash != hashOf("v2") {
				t.Errorf("watcher saw hash %s, want that of v2", w.last.hash)
			}
		})
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
