package store

import (
	"context"
	"fmt"
	"time"
)

// RetryDead re-queues every dead delivery of sink ("" for all sinks)
// created at or after since (zero for any time), in batches, with a fresh
// attempt budget. It returns how many were re-queued. A re-queued delivery
// keeps its id, so a webhook receiver sees the same webhook-id.
func (s *Store) RetryDead(ctx context.Context, sink string, since time.Time) (int, error) {
	return s.RetryMatching(ctx, Filter{Sink: sink, Since: since})
}

// retryBatch is how many dead deliveries RetryMatching re-queues per
// transaction (a variable for tests).
var retryBatch = 500

// RetryMatching re-queues, as RetryDead does, every dead delivery that f
// matches (f.State and f.Limit are ignored).
//
// Only deliveries dead when it starts are re-queued: one that a worker
// sends and fails again while the batches run (a sink still refusing
// everything) stays dead rather than being sent again and again.
func (s *Store) RetryMatching(ctx context.Context, f Filter) (int, error) {
	f.State = StateDead
	start := ms(s.now())
	total := 0
	for {
		where, args := f.where()
		rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT d.id FROM deliveries d`+where+` AND d.updated_at <= ? LIMIT ?`),
			append(args, start, retryBatch)...)
		if err != nil {
			return total, fmt.Errorf("%w: retry dead: %w", ErrUnavailable, err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, fmt.Errorf("%w: retry dead: %w", ErrUnavailable, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("%w: retry dead: %w", ErrUnavailable, err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := s.Retry(ctx, ids...)
		total += n
		if err != nil {
			return total, err
		}
		if s.hookRetried != nil {
			s.hookRetried()
		}
		if len(ids) < retryBatch || n == 0 {
			return total, nil
		}
	}
}
