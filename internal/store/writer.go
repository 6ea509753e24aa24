package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// maxBatch bounds how many operations share one transaction.
const maxBatch = 256

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 30 * time.Second

// op is one unit of work for the writer. It runs inside its own savepoint:
// if it fails, its writes are undone and the others in the batch commit.
type op struct {
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// writer runs every write of the store through one goroutine that batches
// concurrent operations into a single transaction: group commit. An
// operation's caller is answered only after the commit that holds it.
type writer struct {
	db   *sql.DB
	d    dialect
	ops  chan *op
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newWriter(db *sql.DB, d dialect) *writer {
	w := &writer{db: db, d: d, ops: make(chan *op, maxBatch), quit: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

// do runs fn in a transaction shared with concurrent callers and returns
// once that transaction committed (nil) or failed.
func (w *writer) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	o := &op{fn: fn, done: make(chan error, 1)}
	select {
	case w.ops <- o:
	case <-w.quit:
		return fmt.Errorf("%w: closed", ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the operation runs to its end even if ctx is done: the
	// caller learns the real outcome, never a guess.
	return <-o.done
}

func (w *writer) close() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
}

func (w *writer) loop() {
	defer w.wg.Done()
	batch := make([]*op, 0, maxBatch)
	for {
		select {
		case o := <-w.ops:
			batch = append(batch[:0], o)
		case <-w.quit:
			w.drain()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		w.run(batch)
	}
}

// drain answers the operations still queued at close.
func (w *writer) drain() {
	for {
		select {
		case o := <-w.ops:
			w.run([]*op{o})
		default:
			return
		}
	}
}

func (w *writer) run(batch []*op) {
	errs := make([]error, len(batch))
	err := w.runTx(batch, errs)
	for i, o := range batch {
		if err != nil {
			o.done <- err
			continue
		}
		o.done <- errs[i]
	}
}

func (w *writer) runTx(batch []*op, errs []error) error {
	// A batch that cannot finish in this time has lost its database; its
	// callers get an error (and vendors a 503) rather than waiting forever.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: begin: %v", ErrUnavailable, err)
	}
	single := len(batch) == 1
	for i, o := range batch {
		if single {
			// No savepoint needed: the op's failure rolls the whole
			// transaction back.
			if errs[i] = o.fn(ctx, tx); errs[i] != nil {
				tx.Rollback()
				return errs[i]
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			tx.Rollback()
			return fmt.Errorf("%w: savepoint: %v", ErrUnavailable, err)
		}
		if errs[i] = o.fn(ctx, tx); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT op"); err != nil {
				tx.Rollback()
				return fmt.Errorf("%w: rollback to savepoint: %v", ErrUnavailable, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT op"); err != nil {
			tx.Rollback()
			return fmt.Errorf("%w: release savepoint: %v", ErrUnavailable, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: commit: %v", ErrUnavailable, err)
	}
	return nil
}
