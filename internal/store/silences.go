package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// StateSilenced is the state of a delivery a silence matched at intake: it
// is kept in the delivery log, never sent, and can be retried by hand.
const StateSilenced = "silenced"

// Silence holds back the deliveries of events its matcher (an expr
// condition) matches, optionally only those of one sink or rule, until it
// ends.
type Silence struct {
	ID        string    `json:"id"`
	Match     string    `json:"match"`
	Sink      string    `json:"sink,omitempty"`
	Rule      string    `json:"rule,omitempty"`
	Comment   string    `json:"comment"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	EndsAt    time.Time `json:"ends_at"`
	// Active is whether it applies now (set by Silences).
	Active bool `json:"active"`
}

// active is a silence in force, its matcher compiled.
type active struct {
	Silence
	cond *rules.Condition // nil: the matcher does not compile (a silence stored by an older version)
}

// AddSilence stores a silence that applies from now for d; its matcher
// must compile. It returns the silence with its id and times.
func (s *Store) AddSilence(ctx context.Context, sl Silence, d time.Duration) (Silence, error) {
	if _, err := rules.CompileCondition(sl.Match); err != nil {
		return sl, fmt.Errorf("match: %w", err)
	}
	if d <= 0 {
		return sl, fmt.Errorf("a silence needs a positive duration")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	now := s.now()
	sl.ID = "sil_" + hex.EncodeToString(b)
	sl.CreatedAt, sl.EndsAt = fromMS(ms(now)), fromMS(ms(now.Add(d)))
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := tx.exec(ctx, `INSERT INTO silences (id, matcher, sink, rule, comment, created_by, created_at, ends_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sl.ID, sl.Match, sl.Sink, sl.Rule, sl.Comment, sl.CreatedBy, ms(sl.CreatedAt), ms(sl.EndsAt))
		if err != nil {
			return fmt.Errorf("%w: add silence: %w", ErrUnavailable, err)
		}
		return nil
	})
	sl.Active = err == nil
	return sl, err
}

// ExpireSilence ends a silence now. ErrNotFound: no silence in force has
// that id.
func (s *Store) ExpireSilence(ctx context.Context, id string) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		now := ms(s.now())
		r, err := tx.exec(ctx, `UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?`, now, id, now)
		if err != nil {
			return fmt.Errorf("%w: expire silence: %w", ErrUnavailable, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return fmt.Errorf("silence %s: %w (or already ended)", id, ErrNotFound)
		}
		return nil
	})
}

// Silences lists the silences in force, or with all those that ended too
// (the newest first).
func (s *Store) Silences(ctx context.Context, all bool) ([]Silence, error) {
	now := ms(s.now())
	q := `SELECT id, matcher, sink, rule, comment, created_by, created_at, ends_at FROM silences WHERE ends_at > ? ORDER BY created_at DESC`
	after := now
	if all {
		after = -1
	}
	rows, err := s.read.QueryContext(ctx, s.d.q(q), after)
	if err != nil {
		return nil, fmt.Errorf("%w: silences: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var sl Silence
		var created, ends int64
		if err := rows.Scan(&sl.ID, &sl.Match, &sl.Sink, &sl.Rule, &sl.Comment, &sl.CreatedBy, &created, &ends); err != nil {
			return nil, fmt.Errorf("%w: silences: %w", ErrUnavailable, err)
		}
		sl.CreatedAt, sl.EndsAt, sl.Active = fromMS(created), fromMS(ends), ends > now
		out = append(out, sl)
	}
	return out, rows.Err()
}

// RefreshSilences reads the silences in force and makes intake apply them.
// Every instance calls it about every second, so a silence added or
// expired anywhere applies everywhere within that time. A matcher is
// compiled once, when its silence is first read.
func (s *Store) RefreshSilences(ctx context.Context) error {
	sls, err := s.Silences(ctx, false)
	if err != nil {
		return err
	}
	known := map[string]*active{}
	if p := s.silences.Load(); p != nil {
		for _, a := range *p {
			known[a.ID] = a
		}
	}
	in := make([]*active, 0, len(sls))
	for _, sl := range sls {
		if a, ok := known[sl.ID]; ok && a.EndsAt.Equal(sl.EndsAt) {
			in = append(in, a)
			continue
		}
		c, err := rules.CompileCondition(sl.Match)
		if err != nil {
			// Kept without a condition, so it is reported once, not at
			// every refresh; it silences nothing.
			s.log.Error("silence matcher does not compile, ignored", "silence", sl.ID, "err", err)
		}
		in = append(in, &active{Silence: sl, cond: c})
	}
	s.silences.Store(&in)
	return nil
}

// silencedBy marks the matches of an event that a silence in force now
// holds back (nil when none does): those of its sink and rule, if it names
// them, when its matcher holds for the event. Intake runs it with the
// rules, on the caller's goroutine; it costs an atomic load when no silence
// is in force.
func (s *Store) silencedBy(ev *event.Event, matches []rules.Match) []bool {
	p := s.silences.Load()
	if p == nil || len(*p) == 0 || len(matches) == 0 {
		return nil
	}
	at := s.now()
	var env map[string]any
	var out []bool
	for _, sl := range *p {
		if sl.cond == nil || !sl.EndsAt.After(at) {
			continue // its matcher does not compile, or it ended since the last refresh
		}
		evaluated := false
		for i, m := range matches {
			if (sl.Sink != "" && sl.Sink != m.Sink) || (sl.Rule != "" && sl.Rule != m.Rule) {
				continue
			}
			if !evaluated {
				evaluated = true
				if env == nil {
					env = ev.Map()
				}
				if !sl.cond.Match(env) {
					break
				}
			}
			if out == nil {
				out = make([]bool, len(matches))
			}
			out[i] = true
		}
	}
	return out
}

// silence returns the states of an event's matches (nil: all pending) with
// those a silence holds back (see silencedBy) silenced, unless a throttle
// already suppressed them.
func silence(silenced []bool, states []string) []string {
	for i, held := range silenced {
		if !held || (states != nil && states[i] != StatePending) {
			continue
		}
		if states == nil {
			states = make([]string, len(silenced))
			for j := range states {
				states[j] = StatePending
			}
		}
		states[i] = StateSilenced
	}
	return states
}
