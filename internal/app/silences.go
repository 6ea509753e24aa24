package app

import (
	"context"
	"errors"
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
	refresh := func(ctx context.Context) {
		if err := st.RefreshSilences(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Error("silences: read the silences in force (the last read stay in force)", "err", err)
		}
	}
	refresh(context.Background())
	return every(silencesEvery, silencesEvery, refresh)
}
