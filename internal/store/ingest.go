package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// Planner routes a sealed event (PreviousStatus and Stale set) to its
// deliveries: the rules' matches, one per sink, and the rules that failed
// on it. It must be pure. Ingest runs it on the caller's goroutine, before
// the event reaches the serialized writer, with the subject state it
// expects; in the rare case the writer finds another state (a concurrent
// callback about the same transaction got there first) it runs it again.
type Planner func(ev *event.Event) rules.Result

// Handoff takes deliveries straight from intake to this process's delivery
// workers, so a fresh delivery needs no claim round trip: Ingest stores it
// already leased to this process and, once committed, hands it over. A
// delivery that is not reserved is stored unleased and claimed later.
type Handoff interface {
	// Reserve asks for room for one new delivery of sink; ok with the lease
	// to store it under.
	Reserve(sink string) (lease time.Duration, ok bool)
	// Unreserve gives back a reservation that was not used.
	Unreserve(sink string)
	// Take hands over committed deliveries leased to this process.
	Take(ds []*Delivery)
}

// IngestResult reports what an intake stored.
type IngestResult struct {
	// Stored are the new events, sealed (PreviousStatus and Stale set).
	Stored []*event.Event
	// Duplicates are the events that were already stored; they create no
	// deliveries.
	Duplicates []*event.Event
	// Deliveries is the number of deliveries created.
	Deliveries int
	// Sinks names the sinks that got new deliveries to claim from the
	// store: those not handed over (see Handoff).
	Sinks []string
	// Matched names, for each stored event in order, the rules it matched.
	Matched [][]string
	// RuleErrors are the rules that failed on a stored event.
	RuleErrors []EventRuleError
	// Throttled names the rule of each match a throttle suppressed (once
	// per event and rule); its deliveries are stored as suppressed and not
	// counted in Deliveries.
	Throttled []string
	// Replanned counts the events routed again inside the writer because
	// their subject's state changed after they were first routed.
	Replanned int
	// Silenced counts the deliveries stored as silenced (see
	// RefreshSilences); they are not counted in Deliveries.
	Silenced int
	// TimersStarted and TimersCancelled name the expectation of each timer
	// the stored events started and stopped (see Store.expect).
	TimersStarted, TimersCancelled []string
}

// EventRuleError is a rule that failed on a stored event.
type EventRuleError struct {
	Event string
	rules.RuleError
}

// prepared is an event routed and encoded for the subject state it expects
// (ev.PreviousStatus, ev.Stale).
type prepared struct {
	ev   *event.Event
	res  rules.Result
	body []byte
	// silenced marks the matches a silence in force holds back (nil: none).
	silenced []bool
}

func (s *Store) prepare(ev *event.Event, prev string, stale bool, plan Planner) (*prepared, error) {
	ev.PreviousStatus, ev.Stale = prev, stale
	p := &prepared{ev: ev, res: plan(ev)}
	p.silenced = s.silencedBy(ev, p.res.Matches)
	var err error
	if p.body, err = json.Marshal(ev); err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return p, nil
}

// Ingest stores the events of one callback with the deliveries plan decides
// for each, all or nothing, and returns once they are durable. Events already
// stored (same id) are duplicates: they are reported and create nothing.
//
// For each new event the writer reads and updates the state of its subject
// (source + subject), to set PreviousStatus and Stale (on Postgres in one
// statement per event, on SQLite once per batch: subjectBatch): an
// event that arrives after a final one for the same subject is stale and
// does not change that state. The rules run before, on the caller's
// goroutine, for the state the subject had at its last commit
// (subjectHints, updated as each commit ends); the writer routes again only
// an event whose subject changed meanwhile, so the result is exactly that of
// routing in commit order.
//
// h, if not nil, is offered every new pending delivery (see Handoff).
func (s *Store) Ingest(ctx context.Context, events []*event.Event, plan Planner, h Handoff) (*IngestResult, error) {
	in, err := s.newIntake(events, plan, h)
	if err != nil {
		return nil, err
	}
	if err := s.w.submit(ctx, &op{intake: in, done: make(chan error, 1)}); err != nil {
		in.unreserve()
		return nil, err
	}
	if len(in.leased) > 0 {
		h.Take(in.leased)
	}
	return in.res, nil
}

// newIntake routes a callback's events for the states their subjects had
// at the last commit, and for those the callback's earlier events leave.
func (s *Store) newIntake(events []*event.Event, plan Planner, h Handoff) (*intake, error) {
	in := &intake{events: events, plan: plan, h: h, token: s.leaseToken()}
	var within map[subjectKey]subjectState // what this callback's earlier events leave
	for _, ev := range events {
		k := subjectKey{ev.Source, ev.Subject}
		st, ok := within[k]
		if !ok {
			st.status, st.final = s.hints.get(ev.Source, ev.Subject)
		}
		p, err := s.prepare(ev, st.status, st.final, plan)
		if err != nil {
			return nil, err
		}
		in.preps = append(in.preps, p)
		if len(events) > 1 {
			if within == nil {
				within = map[subjectKey]subjectState{}
			}
			if !st.final { // a stale event leaves the state as it was
				st = subjectState{ev.Status, ev.Final}
			}
			within[k] = st
		}
	}
	return in, nil
}

// intake is one callback's events on their way through the writer, and
// what the last run of its operation did.
type intake struct {
	events []*event.Event
	preps  []*prepared
	plan   Planner
	h      Handoff
	token  string // the lease token of the deliveries it hands over

	res      *IngestResult
	seen     map[string]bool // sinks in res.Sinks
	reserved []string        // sinks whose handoff reservation was taken
	leased   []*Delivery     // deliveries stored leased to this process
	threads  []any           // id and thread key of each threaded delivery
}

// unreserve gives back the reservations of the last run.
func (in *intake) unreserve() {
	for _, sink := range in.reserved {
		in.h.Unreserve(sink)
	}
	in.reserved, in.leased = in.reserved[:0], in.leased[:0]
}

// intakes runs the intakes of a batch that are next to each other: one
// INSERT for all their events, then each event's subject, throttles and
// deliveries in order, then one INSERT for all their deliveries. If a
// statement for several intakes fails, each runs again on its own.
func (s *Store) intakes(ctx context.Context, tx *wtx, ops []*op) error {
	err := s.runIntakes(ctx, tx, ops)
	if err != nil && len(ops) > 1 && !tx.conflicted {
		return fmt.Errorf("%w: %w", errSplit, err)
	}
	return err
}

func (s *Store) runIntakes(ctx context.Context, tx *wtx, ops []*op) error {
	now := s.now()
	var first []*prepared // the first of each event id in the group
	byID := map[string]bool{}
	for _, o := range ops {
		in := o.intake
		in.unreserve() // a run again after another operation failed
		in.res, in.seen, in.threads = &IngestResult{}, map[string]bool{}, in.threads[:0]
		if err := s.lockSubjects(ctx, tx, in.events); err != nil {
			return err
		}
		for _, p := range in.preps {
			if !byID[p.ev.ID] {
				byID[p.ev.ID] = true
				first = append(first, p)
			}
		}
	}
	inserted, err := s.insertEvents(ctx, tx, first)
	if err != nil {
		return err
	}
	var subjects *subjectBatch // read and written once for the group
	if s.d.serialTx {
		if subjects, err = s.readSubjects(ctx, tx, first, inserted); err != nil {
			return err
		}
	}
	var rows []any // the deliveries of every intake
	for _, o := range ops {
		in := o.intake
		for seq, p := range in.preps {
			if !inserted[p.ev.ID] {
				in.res.Duplicates = append(in.res.Duplicates, p.ev)
				continue
			}
			delete(inserted, p.ev.ID) // a second copy in this group is a duplicate
			if rows, err = s.ingestOne(ctx, tx, in, p, seq, now, subjects, rows); err != nil {
				return err
			}
		}
	}
	if subjects != nil {
		if err := subjects.write(ctx, tx); err != nil {
			return err
		}
	}
	for len(rows) > 0 {
		n := chunkOf(len(rows)/deliveryInsertColumns, insertChunks)
		if _, err := tx.exec(ctx, insertDeliveries(n), rows[:deliveryInsertColumns*n]...); err != nil {
			return fmt.Errorf("%w: delivery: %w", ErrUnavailable, err)
		}
		rows = rows[deliveryInsertColumns*n:]
	}
	for _, o := range ops {
		if err := s.setThreads(ctx, tx, o.intake.threads); err != nil {
			return err
		}
	}
	return nil
}

// insertEvents inserts events whose ids are distinct, a chunk per
// statement, and returns the ids that were new.
func (s *Store) insertEvents(ctx context.Context, tx *wtx, preps []*prepared) (map[string]bool, error) {
	inserted := make(map[string]bool, len(preps))
	for len(preps) > 0 {
		n := chunkOf(len(preps), insertChunks)
		args := make([]any, 0, 8*n)
		for _, p := range preps[:n] {
			ev := p.ev
			args = append(args, ev.ID, ev.Receiver, ev.Source, ev.Type, ev.Subject, ev.Status, ms(ev.ReceivedAt), string(p.body))
		}
		rows, err := tx.query(ctx, `INSERT INTO events (id, receiver, source, type, subject, status, received_at, body)
			VALUES `+rowsOf("(?, ?, ?, ?, ?, ?, ?, ?)", n)+` ON CONFLICT (id) DO NOTHING RETURNING id`, args...)
		if err != nil {
			return nil, fmt.Errorf("%w: event: %w", ErrUnavailable, err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("%w: event: %w", ErrUnavailable, err)
			}
			inserted[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%w: event: %w", ErrUnavailable, err)
		}
		preps = preps[n:]
	}
	return inserted, nil
}

// lockSubjects locks, on Postgres, the subjects of a callback with several
// events in one fixed order (source, subject) before any is used, so two
// instances taking callbacks about the same transactions cannot deadlock on
// them. SQLite has a single writer and needs no locks.
func (s *Store) lockSubjects(ctx context.Context, tx *wtx, events []*event.Event) error {
	if s.d.forUpdate == "" || len(events) < 2 {
		return nil
	}
	keys := make([][2]string, 0, len(events))
	for _, ev := range events {
		keys = append(keys, [2]string{ev.Source, ev.Subject})
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	keys = slices.Compact(keys)
	now := ms(s.now())
	for _, k := range keys {
		if _, err := tx.exec(ctx, `INSERT INTO subjects (source, subject, status, final, updated_at)
			VALUES (?, ?, '', 0, ?) ON CONFLICT (source, subject) DO UPDATE SET final = subjects.final`, k[0], k[1], now); err != nil {
			return fmt.Errorf("%w: lock subject: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// upsertSubject records an event's status as its subject's state (unless
// the subject is final already: a stale event changes nothing) and returns
// the state before, all in one statement: on Postgres the upsert locks the
// row until commit, so concurrent instances see each other's statuses in
// order.
const upsertSubject = `INSERT INTO subjects (source, subject, status, final, updated_at, prior_status, prior_final)
	VALUES (?, ?, ?, ?, ?, '', 0)
	ON CONFLICT (source, subject) DO UPDATE SET
		prior_status = subjects.status, prior_final = subjects.final,
		status = CASE WHEN subjects.final <> 0 THEN subjects.status ELSE excluded.status END,
		final = CASE WHEN subjects.final <> 0 THEN subjects.final ELSE excluded.final END,
		updated_at = CASE WHEN subjects.final <> 0 THEN subjects.updated_at ELSE excluded.updated_at END
	RETURNING prior_status, prior_final`

// ingestOne records a new event's subject state (in subjects on SQLite,
// with upsertSubject on Postgres), routes it again if that state is not the
// one it was routed for, applies throttles, and appends its deliveries'
// rows to rows. seq is the event's place in its callback.
func (s *Store) ingestOne(ctx context.Context, tx *wtx, in *intake, p *prepared, seq int, at time.Time, subjects *subjectBatch, rows []any) ([]any, error) {
	ev := p.ev
	now := ms(at)
	res := in.res
	if s.hookEv != nil {
		if err := s.hookEv(ev); err != nil {
			return nil, err
		}
	}
	var before subjectState
	if subjects != nil {
		var err error
		if before, err = subjects.advance(ev, now); err != nil {
			return nil, err
		}
	} else {
		var final int
		if err := tx.queryRow(ctx, upsertSubject, ev.Source, ev.Subject, ev.Status, b2i(ev.Final), now).Scan(&before.status, &final); err != nil {
			return nil, fmt.Errorf("%w: subject: %w", ErrUnavailable, err)
		}
		before.final = final != 0
	}
	prev := before.status
	// Remember the state this leaves, in commit order.
	if before.final {
		tx.onCommit(func() { s.hints.put(ev.Source, ev.Subject, prev, true) })
	} else {
		tx.onCommit(func() { s.hints.put(ev.Source, ev.Subject, ev.Status, ev.Final) })
	}
	if prev != ev.PreviousStatus || before.final != ev.Stale {
		// Routed for another state: route again for the one committed.
		q, err := s.prepare(ev, prev, before.final, in.plan)
		if err != nil {
			return nil, err
		}
		*p = *q
		res.Replanned++
		if _, err := tx.exec(ctx, `UPDATE events SET body = ? WHERE id = ?`, string(p.body), ev.ID); err != nil {
			return nil, fmt.Errorf("%w: event: %w", ErrUnavailable, err)
		}
	}
	if len(p.res.Expect) > 0 {
		if err := s.expect(ctx, tx, ev, p.res.Expect, at, res); err != nil {
			return nil, err
		}
	}
	res.Stored = append(res.Stored, ev)
	res.Matched = append(res.Matched, p.res.Matched)
	for _, e := range p.res.Errors {
		res.RuleErrors = append(res.RuleErrors, EventRuleError{Event: ev.ID, RuleError: e})
	}
	matches := slices.Clone(p.res.Matches) // a throttle may render some again
	states, throttled, err := s.throttle(ctx, tx, matches, now)
	if err != nil {
		return nil, err
	}
	res.Throttled = append(res.Throttled, throttled...)
	states = silence(p.silenced, states)
	for i, m := range matches {
		state := StatePending
		if states != nil {
			state = states[i]
		}
		id := DeliveryID(ev.ID, ev.ReceivedAt, seq, m.Rule, m.Sink)
		var leaseUntil int64
		var owner string
		attempts := 0
		if state == StateSilenced {
			res.Silenced++
			if m.Thread != "" {
				// Kept for a retry by hand, which sends it in its thread.
				in.threads = append(in.threads, id, m.Thread)
			}
		}
		if state == StatePending {
			res.Deliveries++
			lease, ok := time.Duration(0), false
			if m.Thread != "" {
				// Claimed in its thread's order, never handed over.
				in.threads = append(in.threads, id, m.Thread)
			} else if in.h != nil {
				lease, ok = in.h.Reserve(m.Sink)
			}
			if ok {
				in.reserved = append(in.reserved, m.Sink)
				until := at.Add(lease)
				leaseUntil, owner, attempts = ms(until), in.token, 1
				in.leased = append(in.leased, &Delivery{ID: id, EventID: ev.ID, Rule: m.Rule, Sink: m.Sink,
					Title: m.Title, Text: m.Text, Templated: m.Templated, State: StatePending, Attempts: 1,
					CreatedAt: fromMS(now), QueuedAt: fromMS(now), UpdatedAt: fromMS(now), Subject: ev.Subject,
					EventJSON: p.body, Event: ev, LeaseUntil: until, Lease: in.token})
			} else if !in.seen[m.Sink] {
				in.seen[m.Sink] = true
				res.Sinks = append(res.Sinks, m.Sink)
			}
		}
		rows = append(rows, id, ev.ID, m.Rule, m.Sink, m.Title, m.Text, b2i(m.Templated),
			state, now, now, now, now, attempts, leaseUntil, owner, ms(ev.ReceivedAt))
	}
	return rows, nil
}
