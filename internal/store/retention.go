package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Retention says how long finished history is kept. A zero window keeps
// that kind forever.
type Retention struct {
	// Delivered is how long delivered (and throttle-suppressed) deliveries
	// are kept after they finished; events without deliveries and subject
	// states are kept as long.
	Delivered time.Duration
	// Dead is how long dead deliveries are kept after they died.
	Dead time.Duration
	// Batch is the number of rows deleted per transaction. Zero means 500.
	Batch int
	// Pause is the least wait between two batches. The wait is also at
	// least pruneYield times as long as the last batch took to commit
	// (queueing behind intake included), so pruning takes a small share of
	// the writer and less when intake is busy.
	Pause time.Duration
}

// Pruned counts the rows a prune removed.
type Pruned struct {
	Delivered int // delivered and suppressed deliveries
	Dead      int // dead deliveries
	Attempts  int
	Events    int
	Subjects  int
	Throttles int // throttle windows that ended long ago
	Threads   int // thread anchors unused for the delivered window
}

func (p *Pruned) add(q Pruned) {
	p.Delivered += q.Delivered
	p.Dead += q.Dead
	p.Attempts += q.Attempts
	p.Events += q.Events
	p.Subjects += q.Subjects
	p.Throttles += q.Throttles
	p.Threads += q.Threads
}

// Prune deletes the history older than r's windows in small batches, each
// its own write through the group-commit writer, so intake keeps flowing
// while it runs: finished deliveries with their attempts, then events that
// have no delivery left, then the subject states of subjects with no event
// left. Pending deliveries are never pruned. report, if not nil, is called
// after each committed batch. Prune returns when nothing older is left or
// ctx is done.
//
// It needs no index of its own (an index on a time column costs intake
// throughput): a finished delivery's next_attempt_at is the time it
// finished, so the deliveries_due index (sink, state, next_attempt_at) lists
// each sink's oldest finished deliveries first; events are walked in
// insertion order (SQLite's rowid), which is received order.
func (s *Store) Prune(ctx context.Context, r Retention, report func(Pruned)) (Pruned, error) {
	if r.Batch <= 0 {
		r.Batch = 500
	}
	var total Pruned
	done := func(p Pruned) error {
		total.add(p)
		if report != nil {
			report(p)
		}
		return nil
	}
	now := s.now()
	windows := []struct {
		state  string
		window time.Duration
	}{{StateDelivered, r.Delivered}, {StateSuppressed, r.Delivered}, {StateSilenced, r.Delivered}, {StateDead, r.Dead}}
	sinks, err := s.sinks(ctx)
	if err != nil {
		return total, err
	}
	for _, sink := range sinks {
		for _, w := range windows {
			if w.window <= 0 {
				continue
			}
			cutoff := ms(now.Add(-w.window))
			for {
				p, n, err := s.pruneDeliveries(ctx, sink, w.state, cutoff, r)
				if err != nil {
					return total, err
				}
				if n == 0 {
					break
				}
				if err := done(p); err != nil {
					return total, err
				}
				if n < r.Batch {
					break
				}
			}
		}
	}
	if r.Delivered > 0 {
		if err := s.pruneEvents(ctx, ms(now.Add(-r.Delivered)), r, done); err != nil {
			return total, err
		}
		if err := s.pruneThrottles(ctx, ms(now.Add(-r.Delivered)), r, done); err != nil {
			return total, err
		}
		if err := s.pruneThreads(ctx, ms(now.Add(-r.Delivered)), r, done); err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneYield is how many times as long as a prune batch took to commit
// pruning waits before the next batch: with 4, pruning holds the writer at
// most a fifth of the time.
const pruneYield = 4

// pruneWrite runs one prune batch through the writer, then waits (see
// Retention.Pause).
func (s *Store) pruneWrite(ctx context.Context, r Retention, fn func(ctx context.Context, tx *wtx) error) error {
	start := time.Now()
	if err := s.w.do(ctx, fn); err != nil {
		return err
	}
	return pause(ctx, max(r.Pause, pruneYield*time.Since(start)))
}

func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pruneDeliveries deletes up to limit deliveries of sink in state that
// finished before cutoff, with their attempts; pruneEvents then deletes the
// events left without deliveries. It returns how many candidates it found.
func (s *Store) pruneDeliveries(ctx context.Context, sink, state string, cutoff int64, r Retention) (Pruned, int, error) {
	limit := r.Batch
	rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT id FROM deliveries
		WHERE sink = ? AND state = ? AND next_attempt_at < ? ORDER BY next_attempt_at LIMIT ?`), sink, state, cutoff, limit)
	if err != nil {
		return Pruned{}, 0, fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return Pruned{}, 0, fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Pruned{}, 0, fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
	}
	if len(ids) == 0 {
		return Pruned{}, 0, nil
	}
	var p Pruned
	err = s.pruneWrite(ctx, r, func(ctx context.Context, tx *wtx) error {
		p = Pruned{}
		for _, id := range ids {
			// Conditions are checked again under the write: the delivery
			// may have been retried since it was read.
			r, err := tx.exec(ctx, `DELETE FROM attempts WHERE delivery_id = ? AND EXISTS
				(SELECT 1 FROM deliveries WHERE id = ? AND state = ? AND next_attempt_at < ?)`, id, id, state, cutoff)
			if err != nil {
				return fmt.Errorf("%w: prune attempts: %w", ErrUnavailable, err)
			}
			p.Attempts += affected(r)
			// The delivery's last attempt goes with its row (migration 7).
			var lastAttempt string // its recorder; "" for none
			err = tx.queryRow(ctx, `DELETE FROM deliveries WHERE id = ? AND state = ? AND next_attempt_at < ?
				RETURNING attempt_owner`, id, state, cutoff).Scan(&lastAttempt)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%w: prune deliveries: %w", ErrUnavailable, err)
			}
			if lastAttempt != "" {
				p.Attempts++
			}
			if state == StateDead {
				p.Dead++
			} else {
				p.Delivered++
			}
		}
		return nil
	})
	if err != nil {
		return Pruned{}, 0, err
	}
	return p, len(ids), nil
}

// pruneEvents deletes the events received before cutoff that have no
// delivery left, and then the subject states of subjects with no event
// left that did not change since cutoff.
func (s *Store) pruneEvents(ctx context.Context, cutoff int64, r Retention, done func(Pruned) error) error {
	limit := r.Batch
	var after int64 // SQLite: the rowid walked up to
	for {
		type cand struct{ id, source, subject string }
		var cands []cand
		var rows *sql.Rows
		var err error
		more := false
		if s.d.name == "sqlite" {
			// Walk the events in insertion order, oldest first, and stop at
			// the first batch that reaches events newer than cutoff. Events
			// still referenced by deliveries are stepped over.
			rows, err = s.read.QueryContext(ctx, `SELECT rowid, id, source, subject, received_at,
				EXISTS (SELECT 1 FROM deliveries d WHERE d.event_at = events.received_at AND d.event_id = events.id)
				FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, limit)
		} else {
			rows, err = s.read.QueryContext(ctx, s.d.q(`SELECT 0, id, source, subject, received_at, 0
				FROM events e WHERE received_at < ?
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_at = e.received_at AND d.event_id = e.id) LIMIT ?`), cutoff, limit)
		}
		if err != nil {
			return fmt.Errorf("%w: prune events: %w", ErrUnavailable, err)
		}
		n := 0
		for rows.Next() {
			var c cand
			var rowid, received int64
			var referenced bool
			if err := rows.Scan(&rowid, &c.id, &c.source, &c.subject, &received, &referenced); err != nil {
				rows.Close()
				return fmt.Errorf("%w: prune events: %w", ErrUnavailable, err)
			}
			n++
			after = rowid
			if received >= cutoff {
				continue
			}
			more = true
			if !referenced {
				cands = append(cands, c)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%w: prune events: %w", ErrUnavailable, err)
		}
		if s.d.name != "sqlite" {
			more = n == limit
		} else if n < limit {
			more = false
		}
		if len(cands) > 0 {
			var p Pruned
			err := s.pruneWrite(ctx, r, func(ctx context.Context, tx *wtx) error {
				p = Pruned{}
				for _, c := range cands {
					r, err := tx.exec(ctx, `DELETE FROM events WHERE id = ? AND received_at < ?
						AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_at = events.received_at AND d.event_id = ?)`, c.id, cutoff, c.id)
					if err != nil {
						return fmt.Errorf("%w: prune events: %w", ErrUnavailable, err)
					}
					if affected(r) == 0 {
						continue
					}
					p.Events++
					// A subject with an open timer keeps its state: the event
					// that stops the timer is routed as one with history.
					r, err = tx.exec(ctx, `DELETE FROM subjects WHERE source = ? AND subject = ? AND updated_at < ?
						AND NOT EXISTS (SELECT 1 FROM events WHERE source = ? AND subject = ?)
						AND NOT EXISTS (SELECT 1 FROM timers WHERE source = ? AND subject = ?)`,
						c.source, c.subject, cutoff, c.source, c.subject, c.source, c.subject)
					if err != nil {
						return fmt.Errorf("%w: prune subjects: %w", ErrUnavailable, err)
					}
					p.Subjects += affected(r)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := done(p); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// pruneThrottles deletes throttle windows that started before cutoff: the
// next match of such a key starts a new window anyway.
func (s *Store) pruneThrottles(ctx context.Context, cutoff int64, r Retention, done func(Pruned) error) error {
	return s.pruneKeys(ctx, r, done,
		`SELECT rule, throttle_key FROM throttles WHERE window_start < ? LIMIT ?`,
		`DELETE FROM throttles WHERE rule = ? AND throttle_key = ? AND window_start < ?`,
		cutoff, func(p *Pruned, n int) { p.Throttles += n })
}

// pruneKeys deletes, a batch at a time, the rows of a table keyed by two
// columns that list selects (given cutoff and a limit) and del deletes
// again under the write (given the two keys and cutoff); count adds what a
// batch deleted.
func (s *Store) pruneKeys(ctx context.Context, r Retention, done func(Pruned) error, list, del string, cutoff int64, count func(*Pruned, int)) error {
	limit := r.Batch
	for {
		rows, err := s.read.QueryContext(ctx, s.d.q(list), cutoff, limit)
		if err != nil {
			return fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
		}
		var keys [][2]string
		for rows.Next() {
			var k [2]string
			if err := rows.Scan(&k[0], &k[1]); err != nil {
				rows.Close()
				return fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
		}
		if len(keys) == 0 {
			return nil
		}
		var p Pruned
		err = s.pruneWrite(ctx, r, func(ctx context.Context, tx *wtx) error {
			p = Pruned{}
			for _, k := range keys {
				r, err := tx.exec(ctx, del, k[0], k[1], cutoff)
				if err != nil {
					return fmt.Errorf("%w: prune: %w", ErrUnavailable, err)
				}
				count(&p, affected(r))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := done(p); err != nil {
			return err
		}
		if len(keys) < limit {
			return nil
		}
	}
}

func affected(r interface{ RowsAffected() (int64, error) }) int {
	n, _ := r.RowsAffected()
	return int(n)
}
