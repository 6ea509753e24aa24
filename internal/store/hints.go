package store

import "sync"

// subjectHints remembers the state of recently committed subjects, so
// Ingest can route an event outside the writer for the state its subject
// will most likely have. It is only a guess: the writer reads the real state
// in the statement that updates it and routes again where the guess was
// wrong (another instance on Postgres, a concurrent callback, an entry
// evicted). A subject not remembered is guessed new, which it is for the
// first status of every transaction.
//
// Memory is bounded by two generations of maxHints entries: when the
// current one fills, it becomes the previous and the oldest is dropped.
type subjectHints struct {
	mu       sync.Mutex
	cur, old map[subjectKey]subjectState
}

type subjectKey struct{ source, subject string }

type subjectState struct {
	status string
	final  bool
}

// maxHints bounds a generation of subjectHints.
const maxHints = 1 << 15

// get returns the remembered status and final flag of a subject, or ""
// and false.
func (h *subjectHints) get(source, subject string) (string, bool) {
	k := subjectKey{source, subject}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.cur[k]
	if !ok {
		st = h.old[k]
	}
	return st.status, st.final
}

// put remembers a subject's committed state.
func (h *subjectHints) put(source, subject, status string, final bool) {
	k := subjectKey{source, subject}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil || len(h.cur) >= maxHints {
		h.old, h.cur = h.cur, make(map[subjectKey]subjectState, 1024)
	}
	h.cur[k] = subjectState{status, final}
}
