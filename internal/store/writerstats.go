package store

import (
	"sync/atomic"
	"time"
)

// CommitBuckets are the upper bounds, in seconds, of the commit duration
// histogram in WriterStats.
var CommitBuckets = [...]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// WriterStats is what the group-commit writer has done since the store
// opened: how busy the one serialized path of every write is, and how much
// each commit amortizes.
type WriterStats struct {
	// Commits counts the transactions that committed; Operations the
	// operations (a callback's intake, a batch of delivery outcomes, a
	// claim…) they held.
	Commits, Operations uint64
	// Busy is the time spent in write transactions, from begin to the end
	// of the commit (its fsync included), failed ones too. Its rate is the
	// writer's utilization: near 1 per writer loop (SQLite has one), the
	// store is what limits intake.
	Busy time.Duration
	// CommitSeconds counts the committed transactions by duration: the
	// count of those at most CommitBuckets[i] seconds, cumulative, and the
	// sum of all durations.
	CommitSeconds    []uint64
	CommitSecondsSum float64
}

// writerStats are the writer's counters, updated by its loops.
type writerStats struct {
	ops, busy, sum atomic.Uint64
	buckets        [len(CommitBuckets) + 1]atomic.Uint64 // per CommitBuckets, then +Inf
}

// transaction records one write transaction that took d; ops > 0 if it
// committed with that many operations.
func (s *writerStats) transaction(d time.Duration, ops int) {
	s.busy.Add(uint64(d))
	if ops == 0 {
		return
	}
	s.ops.Add(uint64(ops))
	s.sum.Add(uint64(d))
	i := 0
	for i < len(CommitBuckets) && d.Seconds() > CommitBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
}

// WriterStats returns what the writer has done since the store opened.
func (s *Store) WriterStats() WriterStats {
	ws := &s.w.stats
	out := WriterStats{
		Operations:       ws.ops.Load(),
		Busy:             time.Duration(ws.busy.Load()),
		CommitSecondsSum: time.Duration(ws.sum.Load()).Seconds(),
		CommitSeconds:    make([]uint64, len(CommitBuckets)),
	}
	var n uint64
	for i := range CommitBuckets {
		n += ws.buckets[i].Load()
		out.CommitSeconds[i] = n
	}
	out.Commits = n + ws.buckets[len(CommitBuckets)].Load()
	return out
}
