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

// finishChunk records outcomes of distinct deliveries: each is its
// delivery's new state and its last attempt, kept in the delivery's row;
// the attempt that was there before moves to attempts (migration 7).
func (s *Store) finishChunk(ctx context.Context, tx *wtx, outcomes []Outcome, now int64) error {
	// An outcome is recorded only under its delivery's current lease:
	// both statements join on it.
	args := make([]any, 0, 1+8*len(outcomes))
	for _, o := range outcomes {
		args = append(args, o.ID, o.Lease)
	}
	if _, err := tx.exec(ctx, `INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error, owner)
		SELECT d.id, d.attempt_n, d.attempt_started_at, d.attempt_duration_ms, d.last_status, d.last_error, d.attempt_owner
		FROM deliveries d JOIN (VALUES `+rowsOf("(?, ?)", len(outcomes))+`) AS v
			ON d.id = v.column1 AND d.lease_owner = v.column2
		WHERE d.attempt_owner <> ''`, args...); err != nil {
		return fmt.Errorf("%w: record attempt: %w", ErrUnavailable, err)
	}
	args = append(args[:0], now, s.owner)
	for _, o := range outcomes {
		args = append(args, o.ID, o.Lease, o.State, nextAttempt(o, now), o.Status, truncate(o.Error, maxErrorLen),
			ms(o.Started), o.Duration.Milliseconds())
	}
	// A retry of a delivery whose sink left the configuration while the
	// attempt was in flight stays held as no_sink.
	rows, err := tx.query(ctx, `UPDATE deliveries SET
		state = CASE WHEN deliveries.state = '`+StateNoSink+`' AND v.column3 = '`+StatePending+`' THEN deliveries.state ELSE v.column3 END,
		next_attempt_at = v.column4, lease_until = 0, lease_owner = '',
		last_status = v.column5, last_error = v.column6, updated_at = ?,
		attempt_n = deliveries.attempt_n + 1, attempt_started_at = v.column7, attempt_duration_ms = v.column8, attempt_owner = ?
		FROM (VALUES `+rowsOf("(?, ?, ?, CAST(? AS BIGINT), CAST(? AS INTEGER), ?, CAST(? AS BIGINT), CAST(? AS BIGINT))", len(outcomes))+`) AS v
		WHERE deliveries.id = v.column1 AND deliveries.lease_owner = v.column2
		RETURNING deliveries.id, deliveries.attempt_n`, args...)
	if err != nil {
		return fmt.Errorf("%w: finish: %w", ErrUnavailable, err)
	}
	// Outcomes whose lease was lost are not recorded: the new owner
	// records its own attempt. A delivery tried more than maxAttemptsKept
	// times drops its oldest.
	type bound struct {
		id string
		n  int
	}
	var over []bound
	for rows.Next() {
		var b bound
		if err := rows.Scan(&b.id, &b.n); err != nil {
			rows.Close()
			return fmt.Errorf("%w: finish: %w", ErrUnavailable, err)
		}
		if b.n > maxAttemptsKept {
			over = append(over, b)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: finish: %w", ErrUnavailable, err)
	}
	for _, b := range over {
		if _, err := tx.exec(ctx, `DELETE FROM attempts WHERE delivery_id = ? AND n <= ?`, b.id, b.n-maxAttemptsKept); err != nil {
			return fmt.Errorf("%w: bound attempts: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// rowsOf repeats a VALUES row n times.
func rowsOf(row string, n int) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}
