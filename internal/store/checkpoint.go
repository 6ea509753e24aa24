package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies SQLite's write-ahead log into the database file from
// its own connection, off the writer's path. Left to the writer, a
// checkpoint runs inside the commit that crosses wal_autocheckpoint and
// holds up every intake waiting for that commit (the slowest replies);
// here it overlaps with the writer's work. The writer's own
// autocheckpoint stays as a backstop, at a size this one keeps the log
// well under.
type checkpointer struct {
	db   *sql.DB
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// checkpointEvery is how often the log is copied.
const checkpointEvery = 200 * time.Millisecond

func startCheckpointer(path string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			// PASSIVE never waits for the writer; what it cannot copy now
			// it copies on a later tick. Errors (the database is busy,
			// closing) leave the work to the next tick and the backstop.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
			cancel()
		}
	}
}

// close stops the checkpointer; a second call does nothing.
func (c *checkpointer) close() error {
	var err error
	c.once.Do(func() {
		close(c.quit)
		<-c.done
		err = c.db.Close()
	})
	return err
}
