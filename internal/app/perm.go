package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// PrepareSQLite creates the files of a new SQLite store (the database, its
// write-ahead log and its shared-memory index) readable and writable by
// the owner only, before the store opens them: they hold phone numbers and
// message text, and SQLite would create them under the process umask,
// usually readable by everyone. SQLite gives the log and index files it
// recreates later the database's mode. An existing store keeps its modes;
// warning says so when its database is readable by group or others.
func PrepareSQLite(dsn string) (warning string, err error) {
	path := strings.TrimPrefix(dsn, "sqlite://")
	if path == "" || strings.HasPrefix(path, ":") || strings.HasPrefix(path, "file:") {
		return "", nil // in memory, or a URI the store resolves itself
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			if p != path {
				continue
			}
			if mode, open := readableByOthers(path); open {
				warning = fmt.Sprintf("store %s is readable by group or others (mode %04o): chmod 600 it and its -wal and -shm files", path, mode)
			}
			return warning, nil
		}
		if err != nil {
			return "", fmt.Errorf("create store %s: %w", p, err)
		}
		f.Close()
	}
	return "", nil
}

// readableByOthers reports whether the file at path can be read by its
// group or by others (never where modes mean nothing).
func readableByOthers(path string) (fs.FileMode, bool) {
	if runtime.GOOS == "windows" {
		return 0, false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return fi.Mode().Perm(), fi.Mode().Perm()&0o044 != 0
}

// configModeWarning returns a warning when the configuration file is
// readable by group or others and holds secrets written in it rather than
// taken from ${VAR}.
func configModeWarning(path string, b *Built) string {
	if len(b.InlineSecrets) == 0 {
		return ""
	}
	mode, open := readableByOthers(path)
	if !open {
		return ""
	}
	return fmt.Sprintf("configuration %s is readable by group or others (mode %04o) and holds secrets written in it (%s): chmod 600 it, or take them from ${VAR}",
		path, mode, strings.Join(b.InlineSecrets, ", "))
}
