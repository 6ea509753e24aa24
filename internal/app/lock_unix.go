//go:build unix

package app

import (
	"fmt"
	"os"
	"syscall"
)

// lockStoreFile takes an exclusive lock next to a SQLite store for the life
// of serve: a second serve on the same file would take over the first
// one's leases at start and send its in-flight deliveries again. The
// deliveries and check commands do not lock.
func lockStoreFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("store %s is in use by another switchboard serve (one serve per SQLite file; use Postgres for several instances)", path)
	}
	return func() { f.Close() }, nil
}
