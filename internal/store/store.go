// Package store keeps events and their deliveries durably: the embedded
// SQLite default and Postgres to scale out share one SQL implementation.
// The dialect (dialect.go) names what differs in the SQL; the schema lock
// (schema.go), the subject locks of intake (ingest.go) and the event walk of
// retention (retention.go) branch on the backend where its behaviour
// differs.
//
// Every write goes through a group-commit writer: concurrent intakes share
// one transaction (and one fsync); an operation that fails is answered with
// its error and the others run again without it (writer.go), so one failing
// request never takes the others down and none is acknowledged before the
// commit that holds its data.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Delivery states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateDead      = "dead"
)

// ErrUnavailable wraps failures to reach or commit to the database: intake
// answers them with 503 so the vendor retries.
var ErrUnavailable = errors.New("store unavailable")

// ErrNotFound is returned for an unknown delivery id.
var ErrNotFound = errors.New("not found")

// Delivery is one row of the delivery log: an event × rule × sink.
type Delivery struct {
	ID            string    `json:"id"`
	EventID       string    `json:"event_id"`
	Rule          string    `json:"rule"`
	Sink          string    `json:"sink"`
	Title         string    `json:"title"`
	Text          string    `json:"text"`
	Templated     bool      `json:"templated"`
	State         string    `json:"state"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"` // pending only
	LastStatus    int       `json:"last_status,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	QueuedAt      time.Time `json:"queued_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// ThreadKey is the key of the thread the delivery's message belongs to
	// ("" for none): set by ClaimOrdered.
	ThreadKey string `json:"-"`

	// Subject is the event's subject; set by List and Get.
	Subject string `json:"subject,omitempty"`

	// EventJSON is the event as stored; set by Claim and Get.
	EventJSON []byte `json:"-"`
	// Event is the event decoded, set on deliveries handed over at intake
	// (Handoff); nil otherwise.
	Event *event.Event `json:"-"`
	// LeaseUntil is when the lease of a claimed delivery ends, and Lease
	// the token of that claim: Finish records an outcome only under the
	// token of the delivery's current claim.
	LeaseUntil time.Time `json:"-"`
	Lease      string    `json:"-"`
}

// Outcome is the result of one delivery attempt, recorded by Finish.
type Outcome struct {
	ID            string
	Lease         string    // the token of the claim the attempt was made under
	State         string    // StatePending (retry later), StateDelivered or StateDead
	NextAttemptAt time.Time // when State is StatePending
	Status        int       // response status, 0 when none
	Error         string    // "" on success
	Started       time.Time
	Duration      time.Duration
}

// Store is the durable queue of events and deliveries.
type Store struct {
	d      dialect
	db     *sql.DB // writes, through the group-commit writer
	read   *sql.DB // queries; the same pool as db where the backend allows
	w      *writer
	owner  string
	leases atomic.Uint64 // claims made, for lease tokens
	hints  subjectHints
	ckpt   *checkpointer // SQLite only
	now    func() time.Time
	hookEv func(*event.Event) error // test hook: runs after an event insert
	// hookRetried is a test hook: runs after each batch of RetryMatching.
	hookRetried func()
	// silences are the silences in force, as last read (RefreshSilences).
	silences atomic.Pointer[[]*active]

	dsn          string // as given to Open (tests open a second instance on it)
	log          *slog.Logger
	connectWait  time.Duration
	migratedFrom int
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens the store named by dsn: a postgres:// URL, or else a SQLite
// file path. It creates or migrates the schema.
//
// A Postgres server that cannot be reached is retried with backoff for a
// bounded time (WithConnectWait) before Open fails with ErrUnavailable.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	s := &Store{owner: newOwner(), now: time.Now, dsn: dsn,
		log: slog.New(slog.DiscardHandler), connectWait: DefaultConnectWait}
	for _, o := range opts {
		o(s)
	}
	var err error
	s.d, s.db, s.read, err = s.openDialect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if s.d.name == "sqlite" {
		if s.ckpt, err = startCheckpointer(strings.TrimPrefix(dsn, "sqlite://")); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	s.w = newWriter(s.db, s.d)
	s.w.intakes = s.intakes
	return s, nil
}

// Owner is this process's lease owner id.
func (s *Store) Owner() string { return s.owner }

// leaseToken returns a new token for a claim: the owner id and a sequence
// number, so ReleaseLeases still knows this process's leases and Finish
// refuses an outcome from an older claim of the same delivery.
func (s *Store) leaseToken() string {
	return s.owner + "." + strconv.FormatUint(s.leases.Add(1), 36)
}

// Dialect names the backend ("sqlite" or "postgres").
func (s *Store) Dialect() string { return s.d.name }

// Close stops the writer and closes the database.
func (s *Store) Close() error {
	s.w.close()
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	return errors.Join(err, s.closeDBs())
}

func (s *Store) closeDBs() error {
	err := s.db.Close()
	if s.read != s.db {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// SchemaVersion returns the version of the database schema: the number of
// migrations applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("%w: schema version: %w", ErrUnavailable, err)
	}
	return v, nil
}

// MigratedFrom returns the schema version Open found, before it migrated
// the database to SchemaVersion.
func (s *Store) MigratedFrom() int { return s.migratedFrom }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func newOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
