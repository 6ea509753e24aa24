package store

import (
	"slices"
	"testing"
	"time"
)

func TestWriterStatsBuckets(t *testing.T) {
	st := &Store{w: &writer{}}
	ws := &st.w.stats
	ws.transaction(300*time.Microsecond, 4) // ≤ .0005
	ws.transaction(time.Millisecond, 1)     // ≤ .001: a bound is inclusive
	ws.transaction(30*time.Millisecond, 9)  // ≤ .05
	ws.transaction(2*time.Second, 2)        // +Inf only
	ws.transaction(5*time.Millisecond, 0)   // rolled back: busy, not a commit
	s := st.WriterStats()
	if s.Commits != 4 || s.Operations != 16 {
		t.Errorf("commits %d operations %d, want 4 and 16", s.Commits, s.Operations)
	}
	want := []uint64{1, 2, 2, 2, 2, 2, 3, 3, 3, 3}
	if !slices.Equal(s.CommitSeconds, want) {
		t.Errorf("cumulative buckets %v, want %v", s.CommitSeconds, want)
	}
	if s.Busy != 2036300*time.Microsecond {
		t.Errorf("busy %v", s.Busy)
	}
	if got, want := s.CommitSecondsSum, 2.0313; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("sum %v, want %v", got, want)
	}
}
