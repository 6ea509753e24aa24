package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// A sink that threads its messages (a Slack sink with thread:) stores a
// thread key with each delivery. Its deliveries of one key are sent in
// order: the claim hands one out only when no earlier delivery of the same
// sink and key is pending (waiting for a retry, or leased and in flight).
// Intake stores them unleased, so they always go through that claim. The
// thread's anchor (the channel and ts of its first message) is kept per
// sink and key in the threads table, shared by every instance.

// claimOrdered is claimDue for a threaded sink: a delivery with a thread key
// waits while an earlier one of the same sink and key is pending. The check
// is an index probe (deliveries_thread, over pending threaded deliveries
// only, so it costs the same however long the thread has run).
const claimOrdered = `UPDATE deliveries SET lease_until = ?, lease_owner = ?, attempts = attempts + 1, updated_at = ?
	WHERE id IN (SELECT d.id FROM deliveries d
		WHERE d.sink = ? AND d.state = ? AND d.next_attempt_at <= ? AND d.lease_until <= ?
		AND ` + inOrder + `
		ORDER BY d.next_attempt_at LIMIT ?%s)
	RETURNING ` + deliveryColumns + `, thread_key`

// inOrder holds for a delivery d that is not threaded, or is the first
// pending one of its thread.
const inOrder = `(d.thread_key = '' OR NOT EXISTS (SELECT 1 FROM deliveries e
	WHERE e.sink = d.sink AND e.thread_key = d.thread_key AND e.thread_key <> ''
	AND e.state = '` + StatePending + `' AND e.id < d.id))`

// ClaimOrdered is Claim for a sink that threads its messages: a delivery
// with a thread key is claimed only once every earlier delivery of its
// sink and key is delivered or dead. It returns the thread keys
// (Delivery.ThreadKey).
func (s *Store) ClaimOrdered(ctx context.Context, sink string, limit int, lease time.Duration) ([]*Delivery, error) {
	return s.claim(ctx, claimOrdered, true, sink, limit, lease)
}

func scanThreaded(sc interface{ Scan(...any) error }) (*Delivery, error) {
	var key string
	d, err := scanDelivery(scanWith{sc, &key})
	if err != nil {
		return nil, err
	}
	d.ThreadKey = key
	return d, nil
}

// scanWith scans one more column, after those of the caller.
type scanWith struct {
	sc    interface{ Scan(...any) error }
	extra any
}

func (w scanWith) Scan(dest ...any) error { return w.sc.Scan(append(dest, w.extra)...) }

// NextDueOrdered is NextDue for a sink that threads its messages: a
// delivery waiting for an earlier one of its thread is not due, the earlier
// one is.
func (s *Store) NextDueOrdered(ctx context.Context, sink string) (time.Time, error) {
	return s.nextDue(ctx, sink, " AND "+inOrder)
}

// setThreads records the thread keys of deliveries just inserted (id, key
// pairs): only threaded deliveries pay for the statement.
func (s *Store) setThreads(ctx context.Context, tx *wtx, pairs []any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if _, err := tx.exec(ctx, `UPDATE deliveries SET thread_key = ? WHERE id = ?`, pairs[i+1], pairs[i]); err != nil {
			return fmt.Errorf("%w: delivery thread: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// Thread is the anchor of one thread of a sink.
type Thread struct {
	// Channel and TS are the channel ID and timestamp of the thread's
	// first message; TS is "" while that message is being posted.
	Channel string
	TS      string
	// LastDelivery is the delivery that posted into the thread last (or is
	// posting its first message).
	LastDelivery string
	// Mine reports that the first message is to be posted by the attempt
	// that opened the thread (OpenThread's owner): TS is "".
	Mine bool
	// OwnedUntil is, while TS is "", until when another attempt owns the
	// first message.
	OwnedUntil time.Time
}

// OpenThread returns the thread of sink and key. When there is none, it is
// created empty and owned by owner (an attempt of delivery) until until,
// in one conditional insert: of two instances opening the same thread, one
// gets to post its first message. An empty thread whose owner's time ran
// out, or that was opened by an earlier attempt of the same delivery (that
// attempt has ended: a delivery has one claim at a time), is taken over.
func (s *Store) OpenThread(ctx context.Context, sink, key, delivery, owner string, until time.Time) (Thread, error) {
	var t Thread
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		t = Thread{}
		now := ms(s.now())
		if _, err := tx.exec(ctx, `INSERT INTO threads (sink, thread_key, channel, ts, last_delivery, owner, owned_until, created_at, updated_at)
			VALUES (?, ?, '', '', ?, ?, ?, ?, ?) ON CONFLICT (sink, thread_key) DO NOTHING`,
			sink, key, delivery, owner, ms(until), now, now); err != nil {
			return fmt.Errorf("%w: open thread: %w", ErrUnavailable, err)
		}
		var cur string
		var ownedUntil int64
		if err := tx.queryRow(ctx, `SELECT channel, ts, last_delivery, owner, owned_until FROM threads
			WHERE sink = ? AND thread_key = ?`+s.d.forUpdate, sink, key).Scan(&t.Channel, &t.TS, &t.LastDelivery, &cur, &ownedUntil); err != nil {
			return fmt.Errorf("%w: open thread: %w", ErrUnavailable, err)
		}
		t.OwnedUntil = fromMS(ownedUntil)
		if t.TS != "" {
			return nil
		}
		if cur != owner && ownedUntil > now && t.LastDelivery != delivery {
			return nil // another attempt is posting the first message
		}
		if cur != owner {
			if _, err := tx.exec(ctx, `UPDATE threads SET owner = ?, owned_until = ?, last_delivery = ?, updated_at = ?
				WHERE sink = ? AND thread_key = ? AND ts = ''`, owner, ms(until), delivery, now, sink, key); err != nil {
				return fmt.Errorf("%w: open thread: %w", ErrUnavailable, err)
			}
		}
		t.Mine, t.LastDelivery, t.OwnedUntil = true, delivery, until
		return nil
	})
	return t, err
}

// ErrThreadLost is returned by AnchorThread when the attempt no longer owns
// the thread's first message (it took longer than its time, and another
// attempt took the thread over).
var ErrThreadLost = errors.New("thread taken over by another attempt")

// AnchorThread records the first message of a thread opened by owner: its
// channel ID and ts.
func (s *Store) AnchorThread(ctx context.Context, sink, key, owner, channel, ts string) error {
	return s.updateThread(ctx, `UPDATE threads SET channel = ?, ts = ?, owner = '', owned_until = 0, updated_at = ?
		WHERE sink = ? AND thread_key = ? AND owner = ? AND ts = ''`, channel, ts, ms(s.now()), sink, key, owner)
}

// ReanchorThread moves a thread whose first message is gone (deleted in
// Slack) to a new first message, posted by delivery. It does nothing if the
// thread was moved meanwhile (its ts is no longer old).
func (s *Store) ReanchorThread(ctx context.Context, sink, key, old, channel, ts, delivery string) error {
	err := s.updateThread(ctx, `UPDATE threads SET channel = ?, ts = ?, last_delivery = ?, updated_at = ?
		WHERE sink = ? AND thread_key = ? AND ts = ?`, channel, ts, delivery, ms(s.now()), sink, key, old)
	if errors.Is(err, ErrThreadLost) {
		return nil
	}
	return err
}

// ThreadPosted records that delivery posted into the thread: an attempt of
// it that runs again (its outcome was not recorded) finds it done.
func (s *Store) ThreadPosted(ctx context.Context, sink, key, delivery string) error {
	err := s.updateThread(ctx, `UPDATE threads SET last_delivery = ?, updated_at = ? WHERE sink = ? AND thread_key = ?`,
		delivery, ms(s.now()), sink, key)
	if errors.Is(err, ErrThreadLost) {
		return nil // pruned meanwhile: the next message starts a new thread
	}
	return err
}

// ReleaseThread gives up an empty thread owner opened and did not post the
// first message of (the post failed): the next attempt takes it at once.
func (s *Store) ReleaseThread(ctx context.Context, sink, key, owner string) error {
	err := s.updateThread(ctx, `DELETE FROM threads WHERE sink = ? AND thread_key = ? AND owner = ? AND ts = ''`, sink, key, owner)
	if errors.Is(err, ErrThreadLost) {
		return nil
	}
	return err
}

// updateThread runs one statement on a thread row; ErrThreadLost when it
// changed no row.
func (s *Store) updateThread(ctx context.Context, query string, args ...any) error {
	n := 0
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		r, err := tx.exec(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%w: thread: %w", ErrUnavailable, err)
		}
		n = affected(r)
		return nil
	})
	if err == nil && n == 0 {
		return ErrThreadLost
	}
	return err
}

// GetThread returns the anchor of sink and key; ok false when there is
// none.
func (s *Store) GetThread(ctx context.Context, sink, key string) (t Thread, ok bool, err error) {
	var ownedUntil int64
	err = s.read.QueryRowContext(ctx, s.d.q(`SELECT channel, ts, last_delivery, owned_until FROM threads WHERE sink = ? AND thread_key = ?`),
		sink, key).Scan(&t.Channel, &t.TS, &t.LastDelivery, &ownedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return Thread{}, false, nil
	}
	if err != nil {
		return Thread{}, false, fmt.Errorf("%w: thread: %w", ErrUnavailable, err)
	}
	t.OwnedUntil = fromMS(ownedUntil)
	return t, true, nil
}

// pruneThreads deletes the anchors of threads nothing was posted into since
// cutoff and that no pending delivery waits for: a later message for such
// a key starts a new thread.
func (s *Store) pruneThreads(ctx context.Context, cutoff int64, r Retention, done func(Pruned) error) error {
	const idle = ` AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.sink = threads.sink
		AND d.thread_key = threads.thread_key AND d.thread_key <> '' AND d.state = '` + StatePending + `')`
	return s.pruneKeys(ctx, r, done,
		`SELECT sink, thread_key FROM threads WHERE updated_at < ?`+idle+` LIMIT ?`,
		`DELETE FROM threads WHERE sink = ? AND thread_key = ? AND updated_at < ?`+idle,
		cutoff, func(p *Pruned, n int) { p.Threads += n })
}
