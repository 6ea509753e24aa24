package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

const deliveryColumns = `id, event_id, rule, sink, title, text, templated, state, attempts,
	next_attempt_at, last_status, last_error, created_at, queued_at, updated_at`

func scanDelivery(sc interface{ Scan(...any) error }) (*Delivery, error) {
	var d Delivery
	var templated int
	var next, created, queued, updated int64
	if err := sc.Scan(&d.ID, &d.EventID, &d.Rule, &d.Sink, &d.Title, &d.Text, &templated, &d.State, &d.Attempts,
		&next, &d.LastStatus, &d.LastError, &created, &queued, &updated); err != nil {
		return nil, err
	}
	d.Templated = templated != 0
	d.CreatedAt, d.QueuedAt, d.UpdatedAt = fromMS(created), fromMS(queued), fromMS(updated)
	if d.State == StatePending { // otherwise it holds when the delivery finished
		d.NextAttemptAt = fromMS(next)
	}
	return &d, nil
}

// Claim leases up to limit due deliveries of sink to this process for
// lease, counting the attempt, and returns them with their events. A
// delivery whose lease expired (its worker died) is due again. Each claim
// has its own lease token (Delivery.Lease), under which Finish records the
// outcome.
func (s *Store) Claim(ctx context.Context, sink string, limit int, lease time.Duration) ([]*Delivery, error) {
	return s.claim(ctx, claimDue, false, sink, limit, lease)
}

const claimDue = `UPDATE deliveries SET lease_until = ?, lease_owner = ?, attempts = attempts + 1, updated_at = ?
	WHERE id IN (SELECT id FROM deliveries
		WHERE sink = ? AND state = ? AND next_attempt_at <= ? AND lease_until <= ?
		ORDER BY next_attempt_at LIMIT ?%s)
	RETURNING ` + deliveryColumns

// claim runs a claim statement: query (with %s for the dialect's row
// locks) takes the lease, the owner, now, the sink, the pending state, now
// twice and the limit, and returns deliveryColumns, then the thread key
// when threaded.
func (s *Store) claim(ctx context.Context, query string, threaded bool, sink string, limit int, lease time.Duration) ([]*Delivery, error) {
	var out []*Delivery
	token := s.leaseToken()
	query = fmt.Sprintf(query, s.d.skipLocked)
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		out = out[:0]
		now := s.now()
		until := now.Add(lease)
		rows, err := tx.query(ctx, query, ms(until), token, ms(now), sink, StatePending, ms(now), ms(now), limit)
		if err != nil {
			return fmt.Errorf("%w: claim: %w", ErrUnavailable, err)
		}
		byEvent := map[string][]*Delivery{}
		for rows.Next() {
			var d *Delivery
			if threaded {
				d, err = scanThreaded(rows)
			} else {
				d, err = scanDelivery(rows)
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("%w: claim: %w", ErrUnavailable, err)
			}
			d.LeaseUntil, d.Lease = until, token
			out = append(out, d)
			byEvent[d.EventID] = append(byEvent[d.EventID], d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%w: claim: %w", ErrUnavailable, err)
		}
		return s.attachEvents(ctx, tx, byEvent)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// attachEvents loads the event bodies of the deliveries.
func (s *Store) attachEvents(ctx context.Context, q querier, byEvent map[string][]*Delivery) error {
	if len(byEvent) == 0 {
		return nil
	}
	ids := make([]any, 0, len(byEvent))
	for id := range byEvent {
		ids = append(ids, id)
	}
	rows, err := q.QueryContext(ctx, s.d.q(`SELECT id, body FROM events WHERE id IN (`+placeholders(len(ids))+`)`), ids...)
	if err != nil {
		return fmt.Errorf("%w: load events: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return fmt.Errorf("%w: load events: %w", ErrUnavailable, err)
		}
		for _, d := range byEvent[id] {
			d.EventJSON = []byte(body)
		}
	}
	return rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Release gives up this process's leases on deliveries it claimed but will
// not attempt (it is stopping), so they are due again at once, here or on
// another instance. The attempt the claim counted is taken back.
func (s *Store) Release(ctx context.Context, ds ...*Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		for _, d := range ds {
			if _, err := tx.exec(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = '', attempts = attempts - 1
				WHERE id = ? AND lease_owner = ?`, d.ID, d.Lease); err != nil {
				return fmt.Errorf("%w: release: %w", ErrUnavailable, err)
			}
		}
		return nil
	})
}

// maxAttemptsKept bounds the attempt history of one delivery: the oldest
// attempts of a delivery retried again and again are dropped.
const maxAttemptsKept = 20

// nextAttempt is the next_attempt_at to store for o: for a delivery that
// is done (delivered, dead) it is the time it got there, so the
// deliveries_due index also lists finished deliveries oldest first, which
// is what retention walks (see Prune).
func nextAttempt(o Outcome, now int64) int64 {
	if o.State == StatePending {
		return ms(o.NextAttemptAt)
	}
	return now
}

// maxErrorLen bounds the stored error text of an attempt.
const maxErrorLen = 1024

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

// NextDue returns when the earliest pending delivery of sink is due (zero
// when none is pending).
func (s *Store) NextDue(ctx context.Context, sink string) (time.Time, error) {
	return s.nextDue(ctx, sink, "")
}

// nextDue is NextDue over the pending deliveries d that also meet and.
func (s *Store) nextDue(ctx context.Context, sink, and string) (time.Time, error) {
	var v sql.NullInt64
	err := s.read.QueryRowContext(ctx, s.d.q(`SELECT MIN(CASE WHEN d.lease_until > d.next_attempt_at THEN d.lease_until ELSE d.next_attempt_at END)
		FROM deliveries d WHERE d.sink = ? AND d.state = ?`+and), sink, StatePending).Scan(&v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: next due: %w", ErrUnavailable, err)
	}
	if !v.Valid {
		return time.Time{}, nil
	}
	return fromMS(v.Int64), nil
}

// ReleaseLeases frees the leases of other owners at once. Only a process
// that knows it is the store's single worker may call it: serve on SQLite
// does at start, so deliveries claimed by a crashed predecessor go out
// without waiting for their leases to expire.
func (s *Store) ReleaseLeases(ctx context.Context) (int, error) {
	var n int
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		r, err := tx.exec(ctx, `UPDATE deliveries SET lease_until = 0, lease_owner = ''
			WHERE lease_until > 0 AND lease_owner NOT LIKE ?`, s.owner+".%")
		if err != nil {
			return fmt.Errorf("%w: release leases: %w", ErrUnavailable, err)
		}
		c, _ := r.RowsAffected()
		n = int(c)
		return nil
	})
	return n, err
}
