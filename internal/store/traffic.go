package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Traffic records the latest callback this instance accepted for receiver
// (at), unless another instance recorded a later one, in the table every
// instance shares. If the receiver had been marked silent before at, it is
// marked resumed and the event resumed makes is stored in the same
// transaction, so exactly one instance emits it. It returns what that
// intake stored (nil when the receiver was not silent).
func (s *Store) Traffic(ctx context.Context, receiver string, at time.Time, resumed func() *event.Event, plan Planner, h Handoff) (*IngestResult, error) {
	res, err := s.emit(ctx, plan, h, func(ctx context.Context, tx *wtx) ([]*event.Event, error) {
		var was int
		var last int64
		err := tx.queryRow(ctx, `SELECT silent, last_at FROM receiver_traffic WHERE receiver = ?`+s.d.forUpdate, receiver).Scan(&was, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: receiver traffic: %w", ErrUnavailable, err)
		}
		// Only a callback later than the last one recorded ends a silence:
		// an instance may note one older than another's (it was not
		// watching the receiver then), which was already judged.
		if _, err := tx.exec(ctx, `INSERT INTO receiver_traffic (receiver, last_at, silent) VALUES (?, ?, 0)
			ON CONFLICT (receiver) DO UPDATE SET
				silent = CASE WHEN excluded.last_at > receiver_traffic.last_at THEN 0 ELSE receiver_traffic.silent END,
				last_at = CASE WHEN excluded.last_at > receiver_traffic.last_at THEN excluded.last_at ELSE receiver_traffic.last_at END`,
			receiver, ms(at)); err != nil {
			return nil, fmt.Errorf("%w: receiver traffic: %w", ErrUnavailable, err)
		}
		if was == 0 || ms(at) <= last {
			return nil, nil
		}
		return []*event.Event{resumed()}, nil
	})
	if err != nil || len(res.Stored)+len(res.Duplicates) == 0 {
		return nil, err
	}
	return res, nil
}

// WatchTraffic starts watching receiver: its quiet time counts from now
// unless a callback or an earlier watch was recorded.
func (s *Store) WatchTraffic(ctx context.Context, receiver string) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.exec(ctx, `INSERT INTO receiver_traffic (receiver, last_at, silent) VALUES (?, ?, 0)
			ON CONFLICT (receiver) DO NOTHING`, receiver, ms(s.now())); err != nil {
			return fmt.Errorf("%w: receiver traffic: %w", ErrUnavailable, err)
		}
		return nil
	})
}

// Quiet marks receiver silent if no instance recorded a callback for it
// for quiet, and stores the event silent makes (given the last callback's
// time) in the same transaction: the conditional update lets one instance
// only emit it, once until the receiver resumes.
func (s *Store) Quiet(ctx context.Context, receiver string, quiet time.Duration, silent func(last time.Time) *event.Event, plan Planner, h Handoff) (*IngestResult, error) {
	res, err := s.emit(ctx, plan, h, func(ctx context.Context, tx *wtx) ([]*event.Event, error) {
		var last int64
		err := tx.queryRow(ctx, `UPDATE receiver_traffic SET silent = 1 WHERE receiver = ? AND silent = 0 AND last_at <= ?
			RETURNING last_at`, receiver, ms(s.now().Add(-quiet))).Scan(&last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("%w: receiver traffic: %w", ErrUnavailable, err)
		}
		return []*event.Event{silent(fromMS(last))}, nil
	})
	if err != nil || len(res.Stored)+len(res.Duplicates) == 0 {
		return nil, err
	}
	return res, nil
}

// QuietDue reports whether receiver's last recorded callback is older than
// quiet and it is not marked silent yet: the read that tells the watcher
// whether to take the writer.
func (s *Store) QuietDue(ctx context.Context, receiver string, quiet time.Duration) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM receiver_traffic WHERE receiver = ? AND silent = 0 AND last_at <= ?`),
		receiver, ms(s.now().Add(-quiet))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("%w: receiver traffic: %w", ErrUnavailable, err)
	}
	return n > 0, nil
}
