package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/switchboard/switchboard/internal/store"
)

// silencesEvery is how often each instance reads the silences in force,
// so one added or expired on any instance applies everywhere within it.
var silencesEvery = time.Second

// startSilences keeps intake's silences current until the returned stop is
// called; stop waits for it to end. The first read happens before it
// returns, so silences apply from the first callback.
func (o *operations) startSilences(st *store.Store) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	refresh := func() {
		if err := st.RefreshSilences(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Error("silences: read the silences in force (the last read stay in force)", "err", err)
		}
	}
	refresh()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(silencesEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
