package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// StateNoSink is the state of a delivery that was pending when its sink
// left the configuration: no worker sends it, nothing deletes it, and it
// becomes pending again (due at once) when a sink of that name is
// configured again.
const StateNoSink = "no_sink"

// MatchSinks brings the deliveries in line with the configured sinks: the
// pending deliveries of sinks not in sinks are set to StateNoSink, and the
// StateNoSink deliveries of sinks in sinks are pending again. Serve calls it
// at start and after each reload. It returns how many deliveries changed
// each way.
//
// A delivery whose attempt is in flight when its sink goes records that
// attempt's outcome as usual; if that outcome is a retry it stays pending
// until the next reload or start.
func (s *Store) MatchSinks(ctx context.Context, sinks []string) (held, resumed int, err error) {
	// Find the sinks with pending deliveries on the read side: the scan
	// does not hold up intake, and the updates below use the index.
	rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT DISTINCT sink FROM deliveries WHERE state = ?`), StatePending)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: pending sinks: %w", ErrUnavailable, err)
	}
	configured := make(map[string]bool, len(sinks))
	for _, n := range sinks {
		configured[n] = true
	}
	var gone []any
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("%w: pending sinks: %w", ErrUnavailable, err)
		}
		if !configured[n] {
			gone = append(gone, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("%w: pending sinks: %w", ErrUnavailable, err)
	}
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		held, resumed = 0, 0
		now := ms(s.now())
		if len(gone) > 0 {
			r, err := tx.exec(ctx, `UPDATE deliveries SET state = ?, updated_at = ? WHERE state = ? AND sink IN (`+placeholders(len(gone))+`)`,
				append([]any{StateNoSink, now, StatePending}, gone...)...)
			if err != nil {
				return fmt.Errorf("%w: hold deliveries: %w", ErrUnavailable, err)
			}
			n, _ := r.RowsAffected()
			held = int(n)
		}
		for _, sink := range sinks {
			n, err := resumeHeld(ctx, tx, sink, now)
			if err != nil {
				return err
			}
			resumed += n
		}
		return nil
	})
	return held, resumed, err
}

// ResumeHeld makes the deliveries of sink held as no_sink pending again,
// due at once, and returns how many. A worker of sink calls it from time to
// time: on Postgres another instance whose configuration lacks the sink (a
// rolling configuration change) may have held them, and they must not wait
// for this instance's next reload. When none is held it costs one indexed
// read.
func (s *Store) ResumeHeld(ctx context.Context, sink string) (int, error) {
	var one int
	err := s.read.QueryRowContext(ctx, s.d.q(`SELECT 1 FROM deliveries WHERE sink = ? AND state = ? LIMIT 1`), sink, StateNoSink).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: held deliveries: %w", ErrUnavailable, err)
	}
	var resumed int
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		resumed, err = resumeHeld(ctx, tx, sink, ms(s.now()))
		return err
	})
	return resumed, err
}

// resumeHeld makes the held deliveries of sink pending, due at now.
func resumeHeld(ctx context.Context, tx *wtx, sink string, now int64) (int, error) {
	r, err := tx.exec(ctx, `UPDATE deliveries SET state = ?, next_attempt_at = ?, updated_at = ? WHERE state = ? AND sink = ?`,
		StatePending, now, now, StateNoSink, sink)
	if err != nil {
		return 0, fmt.Errorf("%w: resume deliveries: %w", ErrUnavailable, err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
