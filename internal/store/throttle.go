package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/rules"
)

// StateSuppressed is the state of a delivery that a rule's throttle held
// back: it is kept in the delivery log, never sent, and counted in the next
// delivered message for the same rule and key.
const StateSuppressed = "suppressed"

// throttle decides, inside the intake transaction, which of an event's
// planned deliveries of throttled rules go out: per rule and key, the first
// match in a window is delivered and later ones are suppressed. It returns
// the state of each planned delivery (nil when no rule is throttled) and the
// rules whose match was suppressed. A delivered match that follows
// suppressed ones is rendered again to say how many.
//
// The state lives in the throttles table, so it survives restarts and is
// shared by every instance on the same database; on Postgres the row is
// locked until commit.
func (s *Store) throttle(ctx context.Context, tx *wtx, planned []rules.Match, now int64) ([]string, []string, error) {
	var states, suppressed []string
	type decision struct {
		state       string
		title, text string
		rendered    bool
	}
	var decided map[string]*decision // by rule: all its sinks share one decision
	for i := range planned {
		p := &planned[i]
		if p.Window <= 0 {
			continue
		}
		if states == nil {
			states = make([]string, len(planned))
			for j := range states {
				states[j] = StatePending
			}
			decided = map[string]*decision{}
		}
		d, ok := decided[p.Rule]
		if !ok {
			n, deliver, err := s.throttleOne(ctx, tx, p, now)
			if err != nil {
				return nil, nil, err
			}
			d = &decision{state: StatePending}
			switch {
			case !deliver:
				d.state = StateSuppressed
				suppressed = append(suppressed, p.Rule)
			case n > 0 && p.Render != nil:
				d.title, d.text = p.Render(n)
				d.rendered = true
			}
			decided[p.Rule] = d
		}
		states[i] = d.state
		if d.rendered {
			p.Title, p.Text = d.title, d.text
		}
	}
	return states, suppressed, nil
}

// throttleOne applies the throttle of one rule and key: it reports whether
// this match is delivered and, if so, how many were suppressed since the
// last delivered one.
func (s *Store) throttleOne(ctx context.Context, tx *wtx, p *rules.Match, now int64) (int, bool, error) {
	if s.d.forUpdate != "" {
		// Create the row first so that FOR UPDATE has one to lock: two
		// instances never both deliver the first match of a window.
		if _, err := tx.exec(ctx, `INSERT INTO throttles (rule, throttle_key, window_start, suppressed)
			VALUES (?, ?, 0, 0) ON CONFLICT (rule, throttle_key) DO NOTHING`, p.Rule, p.ThrottleKey); err != nil {
			return 0, false, fmt.Errorf("%w: throttle: %w", ErrUnavailable, err)
		}
	}
	var start int64
	var n int
	err := tx.queryRow(ctx, `SELECT window_start, suppressed FROM throttles WHERE rule = ? AND throttle_key = ?`+s.d.forUpdate,
		p.Rule, p.ThrottleKey).Scan(&start, &n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("%w: throttle: %w", ErrUnavailable, err)
	}
	if err == nil && now < start+p.Window.Milliseconds() {
		if _, err := tx.exec(ctx, `UPDATE throttles SET suppressed = suppressed + 1 WHERE rule = ? AND throttle_key = ?`,
			p.Rule, p.ThrottleKey); err != nil {
			return 0, false, fmt.Errorf("%w: throttle: %w", ErrUnavailable, err)
		}
		return 0, false, nil
	}
	// A new window starts with this delivery.
	if _, err := tx.exec(ctx, `INSERT INTO throttles (rule, throttle_key, window_start, suppressed) VALUES (?, ?, ?, 0)
		ON CONFLICT (rule, throttle_key) DO UPDATE SET window_start = excluded.window_start, suppressed = 0`,
		p.Rule, p.ThrottleKey, now); err != nil {
		return 0, false, fmt.Errorf("%w: throttle: %w", ErrUnavailable, err)
	}
	return n, true, nil
}
