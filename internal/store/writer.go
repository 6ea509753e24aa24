package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

var errClosed = fmt.Errorf("%w: store closed", ErrUnavailable)

// maxBatch bounds how many operations share one transaction.
const maxBatch = 256

// maxConflicts bounds how often a batch aborted by a deadlock runs again
// before the operation that hit it is answered with the error.
const maxConflicts = 5

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 30 * time.Second

// op is one unit of work for the writer. If it fails, its writes are undone
// and the others in the batch still commit. fn may run more than once (when
// another operation of its batch fails) and must reset what it reports.
type op struct {
	fn func(ctx context.Context, tx *wtx) error
	// intake, if set instead of fn, is a callback's intake: the intakes
	// next to each other in a batch run together (writer.intakes), so their
	// events and deliveries are inserted a few statements for all.
	intake *intake
	done   chan error
}

// errSplit is returned by a group of operations that failed as a whole:
// each runs again on its own, where the failure is its own.
var errSplit = errors.New("group failed: run each operation alone")

// writer runs every write of the store through goroutines that batch
// concurrent operations into a single transaction: group commit. An
// operation's caller is answered only after the commit that holds it.
//
// SQLite gets one such goroutine (it has one writer anyway); Postgres gets
// d.writers, all taking operations from the same queue, so one batch fills
// while others commit.
type writer struct {
	db *sql.DB
	d  dialect
	// intakes runs the intakes next to each other in a batch (Store.intakes).
	intakes func(ctx context.Context, tx *wtx, ops []*op) error
	ops     chan *op
	// stmts caches prepared statements by their ?-placeholder text.
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	quit  chan struct{}
	done  chan struct{} // closed when every loop has ended
	wg    sync.WaitGroup
	once  sync.Once
	// conflicts counts batches run again after a deadlock.
	conflicts atomic.Int64
	stats     writerStats
}

func newWriter(db *sql.DB, d dialect) *writer {
	w := &writer{db: db, d: d, ops: make(chan *op, maxBatch), quit: make(chan struct{}), done: make(chan struct{}), stmts: map[string]*sql.Stmt{}}
	var loops sync.WaitGroup
	for range max(1, d.writers) {
		loops.Add(1)
		go func() {
			defer loops.Done()
			w.loop()
		}()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		loops.Wait()
		close(w.done)
	}()
	return w
}

// do runs fn in a transaction shared with concurrent callers and returns
// once that transaction committed (nil) or failed.
func (w *writer) do(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	return w.submit(ctx, &op{fn: fn, done: make(chan error, 1)})
}

// submit queues o and returns once the transaction that holds it
// committed (nil) or failed.
func (w *writer) submit(ctx context.Context, o *op) error {
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

// prepare caches the statements first seen in the last transaction. They
// are prepared on the pool once it ended: SQLite's one connection is busy
// with the transaction until then.
func (w *writer) prepare(unprepared map[string]bool) {
	for q := range unprepared {
		w.mu.Lock()
		_, ok := w.stmts[q]
		w.mu.Unlock()
		if ok {
			continue // another loop prepared it meanwhile
		}
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		st, err := w.db.PrepareContext(ctx, w.d.q(q))
		cancel()
		if err != nil {
			return // try again after a later transaction
		}
		w.mu.Lock()
		if _, ok := w.stmts[q]; ok {
			st.Close()
		} else {
			w.stmts[q] = st
		}
		w.mu.Unlock()
	}
}

// wtx is a write transaction with the writer's prepared statements: the
// intake path runs the same few statements thousands of times a second, and
// parsing them each time would cost more than executing them.
type wtx struct {
	*sql.Tx
	w *writer
	// unprepared are the queries this transaction found uncached.
	unprepared map[string]bool
	// conflicted is set when a statement failed because of a concurrent
	// transaction (d.conflict).
	conflicted bool
	// committed runs, in order, once the transaction committed.
	committed []func()
}

// onCommit runs f after the transaction commits, before its operations are
// answered; not at all if it rolls back.
func (t *wtx) onCommit(f func()) { t.committed = append(t.committed, f) }

// check notes a conflict error and returns err.
func (t *wtx) check(err error) error {
	if err != nil && t.w.d.conflict != nil && t.w.d.conflict(err) {
		t.conflicted = true
	}
	return err
}

// args adapts string arguments to the backend (d.text).
func (t *wtx) args(args []any) []any {
	if t.w.d.text == nil {
		return args
	}
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = t.w.d.text(s)
		}
	}
	return args
}

func (t *wtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	t.w.mu.Lock()
	st, ok := t.w.stmts[query]
	t.w.mu.Unlock()
	if ok {
		return t.Tx.StmtContext(ctx, st), nil
	}
	t.unprepared[query] = true
	return t.Tx.PrepareContext(ctx, t.w.d.q(query))
}

// exec runs a cached statement written with ? placeholders.
func (t *wtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, t.check(err)
	}
	r, err := st.ExecContext(ctx, t.args(args)...)
	return r, t.check(err)
}

// query runs a cached statement that returns rows.
func (t *wtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, t.check(err)
	}
	rows, err := st.QueryContext(ctx, t.args(args)...)
	return rows, t.check(err)
}

// row is the result of queryRow; its error surfaces in Scan, as with
// database/sql.
type row struct {
	t   *wtx
	r   *sql.Row
	err error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.t.check(r.r.Scan(dest...))
}

// queryRow runs a cached statement that returns one row.
func (t *wtx) queryRow(ctx context.Context, query string, args ...any) *row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return &row{err: t.check(err)}
	}
	return &row{t: t, r: st.QueryRowContext(ctx, t.args(args)...)}
}

func (w *writer) loop() {
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
	unprepared := map[string]bool{}
	conflicts := 0
	for len(batch) > 0 {
		failed, conflicted, err := w.runTx(batch, unprepared)
		w.prepare(unprepared)
		clear(unprepared)
		switch {
		case failed >= 0 && errors.Is(err, errSplit):
			for _, o := range batch {
				w.run([]*op{o})
			}
			return
		case failed >= 0 && conflicted && len(batch) > 1:
			// A deadlock with a concurrent transaction (another loop or
			// instance locking the same subjects in another order) is no
			// fault of the operation. The same batch would likely meet
			// the same cycle again: run each operation on its own, where
			// an intake locks its subjects in a fixed order.
			w.conflicts.Add(1)
			for _, o := range batch {
				w.run([]*op{o})
			}
			return
		case failed >= 0 && conflicted && conflicts < maxConflicts:
			conflicts++
			w.conflicts.Add(1)
			// Back off a little, randomly, so the transaction that won
			// finishes before this one runs again.
			time.Sleep(time.Duration(conflicts) * time.Duration(5+rand.IntN(20)) * time.Millisecond)
			continue
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
// operation that failed (and its error, and whether a concurrent
// transaction caused it), or -1 with the error of the transaction itself.
func (w *writer) runTx(batch []*op, unprepared map[string]bool) (failed int, conflicted bool, err error) {
	start := time.Now()
	defer func() {
		ops := 0
		if failed < 0 && err == nil {
			ops = len(batch)
		}
		w.stats.transaction(time.Since(start), ops)
	}()
	// A batch that cannot finish in this time has lost its database; its
	// callers get an error (and vendors a 503) rather than waiting forever.
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return -1, false, fmt.Errorf("%w: begin: %w", ErrUnavailable, err)
	}
	tx := &wtx{Tx: sqlTx, w: w, unprepared: unprepared}
	stmtCtx := ctx
	if !w.d.cancelStatements {
		// modernc's SQLite driver watches a cancellable context with a
		// goroutine per statement; a local write has nothing to cancel.
		stmtCtx = context.WithoutCancel(ctx)
	}
	for i := 0; i < len(batch); {
		j := i + 1
		var err error
		if batch[i].intake != nil {
			for j < len(batch) && batch[j].intake != nil {
				j++
			}
			err = w.intakes(stmtCtx, tx, batch[i:j])
		} else {
			err = batch[i].fn(stmtCtx, tx)
		}
		if err != nil {
			sqlTx.Rollback()
			if ctx.Err() != nil {
				return -1, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return i, tx.conflicted, err
		}
		i = j
	}
	if err := sqlTx.Commit(); err != nil {
		return -1, false, fmt.Errorf("%w: commit: %w", ErrUnavailable, err)
	}
	for _, f := range tx.committed {
		f()
	}
	return -1, false, nil
}
