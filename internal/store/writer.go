package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

var errClosed = fmt.Errorf("%w: store closed", ErrUnavailable)

// maxBatch bounds how many operations share one transaction.
const maxBatch = 256

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 30 * time.Second

// op is one unit of work for the writer. If it fails, its writes are undone
// and the others in the batch still commit. fn may run more than once (when
// another operation of its batch fails) and must reset what it reports.
type op struct {
	fn   func(ctx context.Context, tx *wtx) error
	done chan error
}

// writer runs every write of the store through one goroutine that batches
// concurrent operations into a single transaction: group commit. An
// operation's caller is answered only after the commit that holds it.
type writer struct {
	db  *sql.DB
	d   dialect
	ops chan *op
	// stmts caches prepared statements by their ?-placeholder text; only
	// the writer goroutine touches it.
	stmts map[string]*sql.Stmt
	// unprepared are queries first seen inside a transaction; they are
	// prepared on the pool once it ends (the pool's one connection is busy
	// with the transaction until then).
	unprepared map[string]bool
	quit       chan struct{}
	done       chan struct{} // closed when the loop has ended
	wg         sync.WaitGroup
	once       sync.Once
}

func newWriter(db *sql.DB, d dialect) *writer {
	w := &writer{db: db, d: d, ops: make(chan *op, maxBatch), quit: make(chan struct{}), done: make(chan struct{}), stmts: map[string]*sql.Stmt{}, unprepared: map[string]bool{}}
	w.wg.Add(1)
	go w.loop()
	return w
}

// do runs fn in a transaction shared with concurrent callers and returns
// once that transaction committed (nil) or failed.
func (w *writer) do(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	o := &op{fn: fn, done: make(chan error, 1)}
	select {
	case <-w.quit:
		return errClosed
	default:
	}
	select {
	case w.ops <- o:
	case <-w.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the operation runs to its end even if ctx is done: the
	// caller learns the real outcome, never a guess.
	select {
	case err := <-o.done:
		return err
	case <-w.done:
		// The loop ended; it may still have answered this operation.
		select {
		case err := <-o.done:
			return err
		default:
			return errClosed
		}
	}
}

func (w *writer) close() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
	for _, st := range w.stmts {
		st.Close()
	}
}

// prepare caches the statements seen in the last transaction.
func (w *writer) prepare() {
	for q := range w.unprepared {
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		st, err := w.db.PrepareContext(ctx, w.d.q(q))
		cancel()
		if err != nil {
			return // try again after the next transaction
		}
		w.stmts[q] = st
		delete(w.unprepared, q)
	}
}

// wtx is a write transaction with the writer's prepared statements: the
// intake path runs the same few statements thousands of times a second, and
// parsing them each time would cost more than executing them.
type wtx struct {
	*sql.Tx
	w *writer
}

func (t *wtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.w.stmts[query]; ok {
		return t.Tx.StmtContext(ctx, st), nil
	}
	t.w.unprepared[query] = true
	return t.Tx.PrepareContext(ctx, t.w.d.q(query))
}

// exec runs a cached statement written with ? placeholders.
func (t *wtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// query runs a cached statement that returns rows.
func (t *wtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a cached statement that returns one row.
func (t *wtx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		// Surface the error through Scan, as database/sql does.
		return t.Tx.QueryRowContext(ctx, "SELECT invalid statement /* "+err.Error()+" */")
	}
	return st.QueryRowContext(ctx, args...)
}

func (w *writer) loop() {
	defer w.wg.Done()
	defer close(w.done)
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
	// Operations run without savepoints: when one fails, the transaction
	// is rolled back, that operation is answered with its error and the
	// others run again in a new transaction. Operations are written to be
	// re-run (they reset what they report). Failures are rare, savepoints
	// would cost on every operation.
	for len(batch) > 0 {
		failed, err := w.runTx(batch)
		w.prepare()
		switch {
		case failed >= 0:
			batch[failed].done <- err
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		case err != nil:
			for _, o := range batch {
				o.done <- err
			}
		default:
			for _, o := range batch {
				o.done <- nil
			}
		}
		return
	}
}

// runTx runs the batch in one transaction. It returns the index of the
// operation that failed (and its error), or -1 with the error of the
// transaction itself.
func (w *writer) runTx(batch []*op) (int, error) {
	// A batch that cannot finish in this time has lost its database; its
	// callers get an error (and vendors a 503) rather than waiting forever.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("%w: begin: %v", ErrUnavailable, err)
	}
	tx := &wtx{Tx: sqlTx, w: w}
	for i, o := range batch {
		if err := o.fn(ctx, tx); err != nil {
			sqlTx.Rollback()
			if ctx.Err() != nil {
				return -1, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			return i, err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return -1, fmt.Errorf("%w: commit: %v", ErrUnavailable, err)
	}
	return -1, nil
}

// prepare caches the statements seen in the last transaction.
