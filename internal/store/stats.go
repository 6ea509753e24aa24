package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// QueueStat is the size of one sink's queue in one state.
type QueueStat struct {
	Sink  string
	State string // StatePending, StateDead or StateNoSink
	Count int
	// OldestDue is, for pending deliveries, the earliest next attempt time
	// that has passed (a delivery being sent counts until it is recorded);
	// zero when none is due.
	OldestDue time.Time
}

// Stats returns the number of pending, dead and held (no_sink) deliveries
// per sink and the oldest due pending one, for the metrics scrape.
// Delivered and suppressed rows are not counted: they are history, not
// queue.
//
// It stays cheap with a large log: the sinks are found with a skip scan of
// the deliveries_due index (sink, state, next_attempt_at), one probe per
// distinct sink, then each (sink, state) is a range of that index.
func (s *Store) Stats(ctx context.Context) ([]QueueStat, error) {
	sinks, err := s.sinks(ctx)
	if err != nil {
		return nil, err
	}
	now := ms(s.now())
	var out []QueueStat
	for _, sink := range sinks {
		for _, state := range []string{StatePending, StateDead, StateNoSink} {
			st := QueueStat{Sink: sink, State: state}
			var due sql.NullInt64
			err := s.read.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*),
				MIN(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)
				FROM deliveries WHERE sink = ? AND state = ?`), now, sink, state).Scan(&st.Count, &due)
			if err != nil {
				return nil, fmt.Errorf("%w: queue stats: %w", ErrUnavailable, err)
			}
			if state == StatePending && due.Valid {
				st.OldestDue = fromMS(due.Int64)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// sinks returns the distinct sink names in the deliveries table, including
// sinks no longer configured that still have deliveries, with one index
// probe per name (a loose index scan) instead of reading every row.
func (s *Store) sinks(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `WITH RECURSIVE names (sink) AS (
			SELECT MIN(sink) FROM deliveries
			UNION ALL
			SELECT (SELECT MIN(d.sink) FROM deliveries d WHERE d.sink > names.sink) FROM names WHERE names.sink IS NOT NULL
		)
		SELECT sink FROM names WHERE sink IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("%w: list sinks: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("%w: list sinks: %w", ErrUnavailable, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: list sinks: %w", ErrUnavailable, err)
	}
	return out, nil
}
