// Package testutil holds the helpers tests across packages share: waiting
// for a condition that other goroutines or processes make true, and a
// buffer they may write to concurrently.
package testutil

import (
	"bytes"
	"sync"
	"time"
)

// PollInterval is how often WaitFor checks its condition.
const PollInterval = 20 * time.Millisecond

// WaitFor calls cond until it returns true, every PollInterval, and reports
// whether it did within limit. cond runs on the caller's goroutine, so it
// may call t.Fatal (when the process it waits for has exited, say). The
// caller reports a timeout in its own words.
func WaitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollInterval)
	}
	return true
}

// SyncBuffer is a bytes.Buffer safe for concurrent use: a log destination
// for a service a test runs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
