package store

import (
	"context"
	"fmt"
	"strings"
)

// Finish records the outcomes of attempts, each in the delivery's attempt
// history, in one transaction. An outcome is recorded only under the lease
// token of the delivery's current claim: one whose lease was lost (it
// expired and the delivery was claimed again, by this process or another)
// is dropped, since the new claim records its own attempt.
//
// The outcomes are written a chunk at a time, two statements per chunk:
// the delivery ledger hands over hundreds at once, and on SQLite a
// statement's fixed cost is most of a small one's.
func (s *Store) Finish(ctx context.Context, outcomes ...Outcome) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		now := ms(s.now())
		seen := make(map[string]bool, len(outcomes))
		rest := outcomes
		for len(rest) > 0 {
			// A chunk holds a delivery once: its attempt number is counted
			// from the rows before the statement.
			n := chunkOf(len(rest), finishChunks)
			clear(seen)
			for i, o := range rest[:n] {
				if seen[o.ID] {
					n = chunkOf(i, finishChunks)
					break
				}
				seen[o.ID] = true
			}
			if err := s.finishChunk(ctx, tx, rest[:n], now); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
}

// finishChunks are the sizes Finish writes at once, largest first: a few
// statement texts cover any number of outcomes.
var finishChunks = []int{256, 64, 16, 4, 1}

// finishChunk records outcomes of distinct deliveries.
func (s *Store) finishChunk(ctx context.Context, tx *wtx, outcomes []Outcome, now int64) error {
	args := make([]any, 0, 1+6*len(outcomes))
	args = append(args, now)
	for _, o := range outcomes {
		args = append(args, o.ID, o.Lease, o.State, nextAttempt(o, now), o.Status, truncate(o.Error, maxErrorLen))
	}
	// A retry of a delivery whose sink left the configuration while the
	// attempt was in flight stays held as no_sink.
	rows, err := tx.query(ctx, `UPDATE deliveries SET
		state = CASE WHEN deliveries.state = '`+StateNoSink+`' AND v.column3 = '`+StatePending+`' THEN deliveries.state ELSE v.column3 END,
		next_attempt_at = v.column4, lease_until = 0, lease_owner = '',
		last_status = v.column5, last_error = v.column6, updated_at = ?
		FROM (VALUES `+rowsOf("(?, ?, ?, CAST(? AS BIGINT), CAST(? AS INTEGER), ?)", len(outcomes))+`) AS v
		WHERE deliveries.id = v.column1 AND deliveries.lease_owner = v.column2
		RETURNING deliveries.id`, args...)
	if err != nil {
		return fmt.Errorf("%w: finish: %w", ErrUnavailable, err)
	}
	recorded := make(map[string]bool, len(outcomes))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("%w: finish: %w", ErrUnavailable, err)
		}
		recorded[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: finish: %w", ErrUnavailable, err)
	}
	// Outcomes whose lease was lost are dropped: the new owner records its
	// own attempt.
	args = append(args[:0], s.owner)
	kept := 0
	for _, o := range outcomes {
		if recorded[o.ID] {
			args = append(args, o.ID, ms(o.Started), o.Duration.Milliseconds(), o.Status, truncate(o.Error, maxErrorLen))
			kept++
		}
	}
	if kept == 0 {
		return nil
	}
	for kept > 0 {
		n := chunkOf(kept, finishChunks) // chunks too: statement texts stay few
		if err := s.recordAttempts(ctx, tx, args[0], args[1:1+5*n]); err != nil {
			return err
		}
		args = append(args[:1], args[1+5*n:]...)
		kept -= n
	}
	return nil
}

// recordAttempts adds one attempt per row of vals (delivery id, start,
// duration, status, error), numbered after the delivery's last, and drops
// the oldest of a delivery that has more than maxAttemptsKept.
func (s *Store) recordAttempts(ctx context.Context, tx *wtx, owner any, vals []any) error {
	rows, err := tx.query(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error, owner)
		SELECT v.column1, COALESCE((SELECT MAX(a.n) FROM attempts a WHERE a.delivery_id = v.column1), 0) + 1,
			v.column2, v.column3, v.column4, v.column5, ?
		FROM (VALUES `+rowsOf("(?, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS INTEGER), ?)", len(vals)/5)+`) AS v
		RETURNING delivery_id, n`, append([]any{owner}, vals...)...)
	if err != nil {
		return fmt.Errorf("%w: record attempt: %w", ErrUnavailable, err)
	}
	var over []struct {
		id string
		n  int
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return fmt.Errorf("%w: record attempt: %w", ErrUnavailable, err)
		}
		if n > maxAttemptsKept {
			over = append(over, struct {
				id string
				n  int
			}{id, n})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: record attempt: %w", ErrUnavailable, err)
	}
	for _, o := range over {
		if _, err := tx.exec(ctx, `DELETE FROM attempts WHERE delivery_id = ? AND n <= ?`, o.id, o.n-maxAttemptsKept); err != nil {
			return fmt.Errorf("%w: bound attempts: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// rowsOf repeats a VALUES row n times.
func rowsOf(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}
