package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultWatchDebounce is how long the configuration file must stay quiet
// after a change before it is reloaded.
const DefaultWatchDebounce = 250 * time.Millisecond

// configWatcher reloads the configuration when its file changes. It watches
// the file's directory, not the file: editors save by writing a new file
// and renaming it over the old one, git unlinks and recreates, and
// Kubernetes swaps a ConfigMap by re-pointing the ..data symlink — all of
// which replace the inode a file watch would follow. After a quiet period
// (the debounce) it compares the file's resolved path and content hash with
// what it saw last, and asks for a reload only when one changed.
type configWatcher struct {
	path     string
	debounce time.Duration
	log      *slog.Logger
	changed  func() // asks for a reload; called from the watcher goroutine

	fsw  *fsnotify.Watcher // nil in tests that feed events directly
	dirs map[string]bool   // directories being watched
	last fileState         // what the running configuration was read from
}

// fileState identifies a version of the configuration file.
type fileState struct {
	resolved string // the path after following symlinks
	hash     string // sha256 of the content, as rules.File.Hash
}

// newConfigWatcher starts watching the directory of path (and of the file
// it resolves to, if elsewhere). hash is that of the configuration running
// now.
func newConfigWatcher(path, hash string, debounce time.Duration, log *slog.Logger, changed func()) (*configWatcher, error) {
	if debounce <= 0 {
		debounce = DefaultWatchDebounce
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &configWatcher{path: path, debounce: debounce, log: log, changed: changed, fsw: fsw, dirs: map[string]bool{}}
	resolved, _ := filepath.EvalSymlinks(path)
	w.last = fileState{resolved: resolved, hash: hash}
	if err := w.watchDirs(); err != nil {
		fsw.Close()
		return nil, err
	}
	return w, nil
}

// watchDirs watches the directory of the path and of its resolved target.
func (w *configWatcher) watchDirs() error {
	want := []string{filepath.Dir(w.path)}
	if w.last.resolved != "" {
		want = append(want, filepath.Dir(w.last.resolved))
	}
	for _, d := range want {
		if w.dirs[d] {
			continue
		}
		if w.fsw != nil {
			if err := w.fsw.Add(d); err != nil {
				return err
			}
		}
		w.dirs[d] = true
	}
	return nil
}

// run watches until ctx is done.
func (w *configWatcher) run(ctx context.Context) {
	defer w.fsw.Close()
	w.loop(ctx, w.fsw.Events, w.fsw.Errors)
}

// loop debounces events and checks the file once they stop.
func (w *configWatcher) loop(ctx context.Context, events <-chan fsnotify.Event, errs <-chan error) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if w.relevant(ev.Name) {
				timer.Reset(w.debounce)
			}
		case err, ok := <-errs:
			if !ok {
				return
			}
			// An overflow means events were lost: look at the file anyway.
			w.log.Warn("watching the configuration file", "err", err)
			timer.Reset(w.debounce)
		case <-timer.C:
			w.check()
		}
	}
}

// relevant reports whether an event in a watched directory may concern the
// configuration: the file itself, its resolved target, or a Kubernetes
// ..data swap. Other files there (the SQLite store and its WAL live next to
// rules.yaml by default) would otherwise keep the debounce from ever ending.
func (w *configWatcher) relevant(name string) bool {
	base := filepath.Base(name)
	return base == filepath.Base(w.path) || w.last.resolved != "" && base == filepath.Base(w.last.resolved) ||
		strings.HasPrefix(base, "..")
}

// check asks for a reload if the file's resolved path or content changed.
func (w *configWatcher) check() {
	resolved, err := filepath.EvalSymlinks(w.path)
	var b []byte
	if err == nil {
		b, err = os.ReadFile(resolved)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Mid-swap (or deleted): the next event brings it back.
			w.log.Warn("configuration file is gone, keeping the running configuration", "config", w.path)
			return
		}
		w.log.Error("read configuration file", "config", w.path, "err", err)
		return
	}
	sum := sha256.Sum256(b)
	now := fileState{resolved: resolved, hash: hex.EncodeToString(sum[:])}
	if now == w.last {
		return
	}
	w.log.Info("configuration file changed, reloading", "config", w.path, "resolved", resolved, "config_hash", now.hash)
	w.last = now
	if err := w.watchDirs(); err != nil {
		w.log.Warn("watch the configuration's directory", "dir", filepath.Dir(resolved), "err", err)
	}
	w.changed()
}

// watch starts the configuration watcher if Options.Watch is set, owned by
// wg. It returns the channel that signals a changed file and the function
// that stops the watcher. A watcher that cannot start (no inotify
// instances left, say) is logged; SIGHUP and POST /-/reload still work.
func (s *service) watch(hash string, wg *sync.WaitGroup) (<-chan struct{}, func()) {
	changed := make(chan struct{}, 1)
	if !s.opts.Watch {
		return changed, func() {}
	}
	w, err := newConfigWatcher(s.opts.ConfigPath, hash, s.opts.WatchDebounce, s.log, func() {
		select {
		case changed <- struct{}{}:
		default: // a reload is already due; it reads the newest file
		}
	})
	if err != nil {
		s.log.Warn("cannot watch the configuration file; reload with SIGHUP or POST /-/reload", "config", s.opts.ConfigPath, "err", err)
		return changed, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.run(ctx)
	}()
	return changed, cancel
}
